"""Locations: site (项目/小区) → building (楼栋) → floor (楼层) → unit (房号)."""

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.columns.readable import Readable
from piccolo.table import Table

UNIT_STATUSES = ("occupied", "vacant", "renovating")


class Site(Table):
    """A property-management project (项目/小区)."""

    code = Varchar(length=32, unique=True, help_text="Short code, also signed into QR labels.")
    name = Varchar(length=100)
    timezone = Varchar(length=64, default="Asia/Shanghai")
    address = Varchar(length=200, default="")
    created_at = Timestamptz()
    # Renovation rules of the site (server/site_rules.py): a worker's pass deposit and fee in fen,
    # the hours noisy work is allowed (HH:MM windows in the site's time zone), a permit's months.
    pass_deposit = Integer(default=10000)
    pass_fee = Integer(default=500)
    noisy_hours = JSON(default=[["08:00", "12:00"], ["14:00", "18:00"]])
    renovation_months = Integer(default=3)

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.name])


class SiteRulesChange(Table):
    """Each change of a site's renovation rules: who, when, the rules as saved (also the
    exactly-once record of the phone's ``client_id``)."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    changed_by = ForeignKey("server.tables.accounts.User", on_delete=OnDelete.set_null, null=True)
    changed_at = Timestamptz()
    rules = JSON(default={})
    client_id = Varchar(length=36, null=True, default=None)
    body_hash = Varchar(length=64, default="")


class Building(Table):
    """楼栋."""

    site = ForeignKey("server.tables.sites.Site", on_delete=OnDelete.cascade, null=False)
    code = Varchar(length=16, help_text="Short code used in checkpoint codes, e.g. 'A'.")
    name = Varchar(length=50, help_text="e.g. 1栋")
    floors_above = Integer(default=1)
    floors_below = Integer(default=0)
    sort_order = Integer(default=0)

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.name])


class Floor(Table):
    """楼层. ``level`` is signed: -1 is B1, 1 is the ground floor, 0 is not used."""

    building = ForeignKey("server.tables.sites.Building", on_delete=OnDelete.cascade, null=False)
    level = Integer()
    name = Varchar(length=20, help_text="As printed on the floor sign, e.g. '12F' or 'B1'.")
    plan_image = Varchar(
        length=200,
        null=True,
        default=None,
        help_text="Floor plan image under the data directory, if uploaded.",
    )

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.name])


class Unit(Table):
    """房号, with its occupancy status (occupied / 空置 vacant / 装修中 renovating)."""

    floor = ForeignKey("server.tables.sites.Floor", on_delete=OnDelete.cascade, null=False)
    number = Varchar(length=20, help_text="e.g. 1203")
    status = Varchar(
        length=12, default="occupied", choices=None, help_text="occupied | vacant | renovating"
    )
    area_m2 = Float(null=True, default=None)
    vacant_since = Date(null=True, default=None)
    active = Boolean(default=True)

    @classmethod
    def get_readable(cls):
        return Readable(template="%s", columns=[cls.number])
