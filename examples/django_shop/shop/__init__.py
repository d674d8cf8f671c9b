"""A small Django shop: products with a price and a version, read through the
cache, updated in the database. examples/django_shop/README.md."""
