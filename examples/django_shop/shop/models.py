from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    # +1 on every update: what the e2e checker compares to see a stale read
    version = models.PositiveIntegerField(default=1)

    class Meta:
        app_label = "shop"
