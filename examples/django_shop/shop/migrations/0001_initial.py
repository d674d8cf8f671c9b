from decimal import Decimal

from django.db import migrations, models

PRODUCTS = 200  # 10 pages of 20


def seed(apps, schema_editor):
    Product = apps.get_model("shop", "Product")
    Product.objects.bulk_create(
        Product(id=i, name="product %03d" % i, price=Decimal(i) + Decimal("0.99"))
        for i in range(1, PRODUCTS + 1)
    )


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Product",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False,
                                        verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("price", models.DecimalField(decimal_places=2, max_digits=10)),
                ("version", models.PositiveIntegerField(default=1)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
