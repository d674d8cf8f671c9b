/*
 * test_errors.c - every error says what to do: shmc_open_error() names the
 * constraint, the numbers and the fix; shmc_strerror() words the library's
 * own codes and falls back to the system's text for the errnos it passes
 * through.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static void assert_has(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" lacks \"%s\"", text, part);
}

static void a_value_larger_than_a_stripe_names_both_sizes_and_the_fix(void **state)
{
    tu_fixture_t *f = *state;
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.memory = 1u << 20;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), -EINVAL);
    assert_null(c);
    const char *e = shmc_open_error();
    assert_has(e, "max value 1.00 MiB does not fit a stripe of 1.00 MiB");
    assert_has(e, "raise memory or lower max_value_len");
    /* nothing was created */
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -ENOENT);
}

static void explicit_stripes_that_leave_too_little_memory_are_named(void **state)
{
    tu_fixture_t *f = *state;
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.memory = 1u << 20;
    cfg.max_value_len = 300u << 10;
    cfg.stripes = 4;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), -EINVAL);
    assert_has(shmc_open_error(), "does not fit a stripe of 256.00 KiB");
    assert_has(shmc_open_error(), "over 4 stripes");
    assert_has(shmc_open_error(), "or stripes");
}

static void each_bad_field_is_named_with_its_value(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = NULL;
    shmc_config_t cfg;
    shmc_config_init(&cfg);
    cfg.max_key_len = 0;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), -EINVAL);
    assert_has(shmc_open_error(), "max_key_len 0 is outside 1..65535");
    shmc_config_init(&cfg);
    cfg.stripes = 3;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), -EINVAL);
    assert_has(shmc_open_error(), "stripes 3 must be a power of two");
    shmc_config_init(&cfg);
    cfg.mode = 01777;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), -EINVAL);
    assert_has(shmc_open_error(), "mode 01777");
    shmc_config_init(&cfg);
    cfg.capacity = SHMC_CAPACITY_MAX + 1;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), -EINVAL);
    assert_has(shmc_open_error(), "capacity 1073741825 is over the limit");
    assert_int_equal(shmc_open("bad/name", 0, NULL, &c), -EINVAL);
    assert_has(shmc_open_error(), "bad name");
    assert_int_equal(shmc_open(f->name, SHMC_EXCL, NULL, &c), -EINVAL);
    assert_has(shmc_open_error(), "SHMC_EXCL without SHMC_CREATE");
}

static void a_missing_segment_says_how_to_create_it(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -ENOENT);
    assert_has(shmc_open_error(), "no segment named");
    assert_has(shmc_open_error(), "SHMC_CREATE");
}

static void a_wider_mode_than_accepted_names_both_modes(void **state)
{
    tu_fixture_t *f = *state;
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    cfg.mode = 0660;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), 0);
    shmc_close(c);
    c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -EACCES);
    assert_has(shmc_open_error(), "mode 0660, wider than the 0600 accepted");
    assert_int_equal(shmc_unlink(f->name), 0);
}

static void a_successful_open_clears_the_detail(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -ENOENT);
    assert_true(shmc_open_error()[0] != '\0');
    shmc_config_t cfg;
    tu_small_cfg(&cfg);
    assert_int_equal(shmc_open(f->name, SHMC_CREATE, &cfg, &c), 0);
    assert_string_equal(shmc_open_error(), "");
    shmc_close(c);
    assert_int_equal(shmc_unlink(f->name), 0);
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* this thread never called shmc_open: its detail is its own, empty */
    return (void *)(uintptr_t)(shmc_open_error()[0] == '\0');
}

static void the_detail_belongs_to_the_calling_thread(void **state)
{
    tu_fixture_t *f = *state;
    shmc_t *c = NULL;
    assert_int_equal(shmc_open(f->name, 0, NULL, &c), -ENOENT);
    pthread_t t;
    void *ok = NULL;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &ok), 0);
    assert_true(ok != NULL);
    assert_has(shmc_open_error(), "no segment named");
}

static void strerror_falls_back_to_the_system_text(void **state)
{
    (void)state;
    assert_string_equal(shmc_strerror(-ENOMEM), strerror(ENOMEM));
    assert_string_equal(shmc_strerror(-EMFILE), strerror(EMFILE));
    assert_string_equal(shmc_strerror(-ENOTSUP), strerror(ENOTSUP));
    assert_string_equal(shmc_strerror(EMFILE), strerror(EMFILE));
    /* the library's own codes keep its wording */
    assert_has(shmc_strerror(-EDEADLK), "check --repair");
    assert_has(shmc_strerror(-ENOENT), "cache miss");
    assert_string_equal(shmc_strerror(-100000), "unknown error");
    assert_string_equal(shmc_strerror(INT32_MIN), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_value_larger_than_a_stripe_names_both_sizes_and_the_fix,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test_setup_teardown(explicit_stripes_that_leave_too_little_memory_are_named,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test_setup_teardown(each_bad_field_is_named_with_its_value,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test_setup_teardown(a_missing_segment_says_how_to_create_it,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test_setup_teardown(a_wider_mode_than_accepted_names_both_modes,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test_setup_teardown(a_successful_open_clears_the_detail,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test_setup_teardown(the_detail_belongs_to_the_calling_thread,
                                        tu_fixture_name_only, tu_teardown),
        cmocka_unit_test(strerror_falls_back_to_the_system_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
