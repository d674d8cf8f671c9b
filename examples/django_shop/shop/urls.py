from django.urls import path

from . import views

urlpatterns = [
    path("page/<int:n>/", views.page),
    path("product/<int:pid>/", views.product),
    path("product/<int:pid>/update/", views.update),
]
