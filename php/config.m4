dnl shmcache PHP extension. Built from a copy of this directory under
dnl build/php (see the Makefile's php target), against the library's public
dnl header and its static archive, which is compiled with -fPIC:
dnl   ./configure --enable-shmcache --with-shmcache-root=/path/to/shmcache
PHP_ARG_ENABLE([shmcache], [whether to enable shmcache],
  [AS_HELP_STRING([--enable-shmcache], [Enable the shmcache extension])], [no])

PHP_ARG_WITH([shmcache-root], [where the shmcache source tree is],
  [AS_HELP_STRING([--with-shmcache-root=DIR], [shmcache tree holding include/shmcache.h and build/libshmcache.a])],
  [no], [no])

if test "$PHP_SHMCACHE" != "no"; then
  if test "$PHP_SHMCACHE_ROOT" = "no" || test ! -f "$PHP_SHMCACHE_ROOT/include/shmcache.h"; then
    AC_MSG_ERROR([--with-shmcache-root=DIR must name the shmcache tree (DIR/include/shmcache.h)])
  fi
  SHMCACHE_LIB="$PHP_SHMCACHE_ROOT/build/libshmcache.a"
  if test ! -f "$SHMCACHE_LIB"; then
    AC_MSG_ERROR([$SHMCACHE_LIB is missing: run make lib in the shmcache tree first])
  fi
  PHP_ADD_INCLUDE([$PHP_SHMCACHE_ROOT/include])
  dnl The archive goes in whole-archive-free: only the members the extension
  dnl uses are linked; --exclude-libs keeps its symbols out of the .so's
  dnl dynamic table so another copy of the library in the process (a Python
  dnl embed, a second extension) cannot be interposed.
  SHMCACHE_SHARED_LIBADD="$SHMCACHE_LIB -lurcu-memb -lurcu-cds -lpthread -ldl -Wl,--exclude-libs,libshmcache.a"
  PHP_SUBST(SHMCACHE_SHARED_LIBADD)
  dnl PHP's headers as system headers: the project's warning set
  dnl (-Wconversion included) then applies to our code, not to Zend's macros.
  SHMCACHE_PHPINC=`$PHP_CONFIG --include-dir`
  SHMCACHE_CFLAGS="-std=gnu11 -fvisibility=hidden -Wall -Wextra -Wshadow -Wconversion -Wno-unused-parameter -Wno-missing-field-initializers"
  for d in "" /main /TSRM /Zend /ext; do
    SHMCACHE_CFLAGS="$SHMCACHE_CFLAGS -isystem $SHMCACHE_PHPINC$d"
  done
  PHP_NEW_EXTENSION(shmcache, shmcache.c shmcache_value.c shmcache_array.c shmcache_api.c shmcache_entry.c shmcache_info.c shmcache_iterator.c shmcache_compat.c,
    $ext_shared, , [$SHMCACHE_CFLAGS])
fi
