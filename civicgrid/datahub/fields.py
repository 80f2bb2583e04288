"""What each kind of source can fill: its fields, which are required, how a file's column
headers are recognised (Chinese and English), and the value tables for coded fields."""

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from civicgrid.datahub.models import EXTERNAL_TARGETS, Target

__all__ = [
    "CHOICE_WORDS",
    "FieldSpec",
    "fields_of",
    "normalise_header",
    "suggest_mapping",
]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str  # text, id_number, phone, date, datetime, coordinate, choice, grid, credit_code …
    required: bool = False
    max_length: int = 200
    headers: tuple[str, ...] = ()  # recognised column names, most specific first


_ADDRESS = FieldSpec(
    "address",
    _("address"),
    "text",
    headers=("地址", "详细地址", "居住地址", "现住址", "住址", "发生地址", "事发地址", "address"),
)
_LAT = FieldSpec("lat", _("latitude"), "coordinate", headers=("纬度", "lat", "latitude"))
_LNG = FieldSpec("lng", _("longitude"), "coordinate", headers=("经度", "lng", "lon", "longitude"))
_GRID = FieldSpec(
    "grid_code",
    _("grid code"),
    "grid",
    headers=("网格编码", "网格代码", "网格编号", "所属网格", "grid_code", "grid"),
)
_PLACE = (_ADDRESS, _LAT, _LNG, _GRID)

_EXTERNAL = (
    FieldSpec(
        "external_id",
        _("number in the source"),
        "text",
        required=True,
        max_length=64,
        headers=(
            "工单编号",
            "信访件编号",
            "警情编号",
            "案件编号",
            "纠纷编号",
            "编号",
            "单号",
            "external_id",
            "id",
        ),
    ),
    FieldSpec(
        "occurred_at",
        _("occurred"),
        "datetime",
        required=True,
        headers=(
            "发生时间",
            "报警时间",
            "登记时间",
            "受理时间",
            "来访时间",
            "时间",
            "日期",
            "occurred_at",
            "date",
        ),
    ),
    FieldSpec(
        "category",
        _("category"),
        "text",
        max_length=100,
        headers=("问题分类", "警情类别", "事项类别", "类别", "分类", "category"),
    ),
    FieldSpec("status", _("status"), "text", max_length=50, headers=("办理状态", "状态", "status")),
    FieldSpec(
        "description",
        _("description"),
        "text",
        max_length=4000,
        headers=("诉求内容", "简要案情", "简要警情", "内容", "描述", "概况", "事项", "description"),
    ),
    *_PLACE,
)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    Target.POPULATION: (
        FieldSpec(
            "name",
            _("name"),
            "text",
            required=True,
            max_length=50,
            headers=("姓名", "name"),
        ),
        FieldSpec(
            "id_number",
            _("ID number"),
            "id_number",
            required=True,
            headers=(
                "公民身份号码",
                "身份证号码",
                "身份证号",
                "证件号码",
                "身份证",
                "id_number",
                "id number",
            ),
        ),
        FieldSpec("gender", _("gender"), "choice", headers=("性别", "gender", "sex")),
        FieldSpec(
            "birth_date", _("date of birth"), "date", headers=("出生日期", "生日", "birth_date")
        ),
        FieldSpec(
            "phone",
            _("phone"),
            "phone",
            headers=("联系电话", "手机号码", "手机号", "联系方式", "电话", "phone", "mobile"),
        ),
        FieldSpec(
            "house_code",
            _("house code"),
            "text",
            max_length=32,
            headers=("房屋编码", "房屋编号", "house_code"),
        ),
        *_PLACE,
    ),
    Target.HOUSES: (
        FieldSpec(
            "code",
            _("house code"),
            "text",
            max_length=32,
            headers=("房屋编码", "房屋编号", "编码", "code"),
        ),
        FieldSpec(
            "address",
            _("address"),
            "text",
            required=True,
            headers=("房屋地址", "地址", "详细地址", "address"),
        ),
        FieldSpec("kind", _("kind"), "choice", headers=("房屋用途", "用途", "类型", "kind")),
        _LAT,
        _LNG,
        _GRID,
    ),
    Target.ORGANISATIONS: (
        FieldSpec(
            "name",
            _("name"),
            "text",
            required=True,
            max_length=100,
            headers=("单位名称", "企业名称", "组织名称", "名称", "name"),
        ),
        FieldSpec(
            "credit_code",
            _("unified social credit code"),
            "credit_code",
            headers=("统一社会信用代码", "社会信用代码", "信用代码", "credit_code"),
        ),
        FieldSpec("kind", _("kind"), "choice", headers=("单位类型", "类型", "类别", "kind")),
        *_PLACE,
    ),
    Target.PLACES: (
        FieldSpec(
            "name",
            _("name"),
            "text",
            required=True,
            max_length=100,
            headers=("场所名称", "名称", "name"),
        ),
        FieldSpec(
            "kind",
            _("kind"),
            "choice",
            required=True,
            headers=("场所类型", "类型", "类别", "kind"),
        ),
        *_PLACE,
    ),
    Target.KEY_GROUPS: (
        FieldSpec(
            "id_number",
            _("ID number"),
            "id_number",
            required=True,
            headers=("公民身份号码", "身份证号码", "身份证号", "证件号码", "id_number"),
        ),
        FieldSpec(
            "key_group",
            _("key group"),
            "key_group",
            required=True,
            headers=("重点人群类别", "人员类别", "人群类别", "重点人群", "类别", "key_group"),
        ),
        FieldSpec("since", _("since"), "date", headers=("列管日期", "起始日期", "since")),
        FieldSpec("note", _("note"), "text", headers=("备注", "note")),
    ),
}
for _target in EXTERNAL_TARGETS:
    FIELDS[_target] = _EXTERNAL
del _target


def fields_of(target: str) -> tuple[FieldSpec, ...]:
    return FIELDS[target]


# Coded values: each code with the words a department's file may use for it.
CHOICE_WORDS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("population", "gender"): {
        "M": ("男", "1", "m", "male", "男性"),
        "F": ("女", "2", "f", "female", "女性"),
    },
    ("houses", "kind"): {
        "owner": ("自住", "自有", "自用", "owner"),
        "rented": ("出租", "租赁", "rented"),
        "shop": ("商铺", "商用", "经营", "门面", "shop"),
        "vacant": ("空置", "闲置", "vacant"),
    },
    ("organisations", "kind"): {
        "enterprise": ("企业", "公司", "enterprise"),
        "shop": ("个体工商户", "个体", "shop"),
        "social": ("社会组织", "社会团体", "社团", "民办非企业", "基金会", "social"),
        "public": ("事业单位", "机关", "public"),
    },
    ("places", "kind"): {
        "market": ("农贸市场", "市场", "market"),
        "school": ("学校", "幼儿园", "school"),
        "hospital": ("医院", "诊所", "卫生院", "hospital"),
        "small_venue": ("九小场所", "小场所", "small_venue"),
        "rental": ("出租房", "出租屋", "rental"),
        "construction": ("建筑工地", "工地", "construction"),
        "scenic": ("景区", "景点", "scenic"),
    },
}

_HEADER_NOISE = re.compile(r"[\s_\-:：*（）()]+")


def normalise_header(name) -> str:
    text = unicodedata.normalize("NFKC", str(name or "")).lstrip("\ufeff")
    return _HEADER_NOISE.sub("", text).lower()


def suggest_mapping(target: str, header: list[str]) -> dict[str, str]:
    """{field: column} guessed from the file's header: an exact name first, then a column
    whose name contains one of the field's names. Each column is used once."""
    columns = {normalise_header(h): h for h in header if str(h or "").strip()}
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for exact in (True, False):
        for spec in fields_of(target):
            if spec.name in mapping:
                continue
            for word in spec.headers:
                word = normalise_header(word)
                found = next(
                    (
                        original
                        for normal, original in columns.items()
                        if original not in taken
                        and (normal == word if exact else len(word) >= 2 and word in normal)
                    ),
                    None,
                )
                if found is not None:
                    mapping[spec.name] = found
                    taken.add(found)
                    break
    return mapping
