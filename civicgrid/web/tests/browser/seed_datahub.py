"""The data hub test's data: a point inside grid1's grid and the address of a house there,
so the uploaded file has rows that find their grid by coordinates and by address."""


def seed(data: dict) -> dict:
    from civicgrid.people.models import House

    code = data["own_grid"]["code"]
    house = next(
        h
        for h in House.objects.filter(region_code=code).order_by("code")
        if House.objects.filter(address=h.address).count() == 1
    )
    return {"point": data["own_grid"]["point"], "house_address": house.address, "grid": code}
