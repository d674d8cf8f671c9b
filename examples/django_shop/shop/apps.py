from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _sqlite_pragmas(sender, connection, **kwargs):
    # WAL: readers never wait for the writer and the writer never waits for
    # readers (rollback journal mode would make every update block the page
    # views of the other workers).  synchronous=NORMAL is the usual WAL
    # companion: durable at checkpoints, no fsync per commit.
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")


class ShopConfig(AppConfig):
    name = "shop"
    default_auto_field = "django.db.models.AutoField"

    def ready(self):
        connection_created.connect(_sqlite_pragmas)
