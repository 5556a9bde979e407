"""The occupations (工种) the demo and the tests use, for the occupation table (claims.models.Occupation).

Codes are those of the national occupational classification (《中华人民共和国职业分类大典》,
2015 edition, kept in the 2022 edition) where we know them. ``DEMO-…`` codes are placeholders,
not classification codes: the special-operation categories (高处作业, 制冷与空调作业) are
certificate types of the safety regulator, not occupations of the classification, 次坞打面 is a
special-ability item (专项职业能力), and the forklift driver's code is not confirmed. Replace them with the real codes before production use.

Aliases are the names rosters and certificates use for the same occupation: a special-operation
certificate says 低压电工作业, the classification says 电工.
"""

from claims.occupations import ensure_occupation

# (code, name, aliases)
OCCUPATIONS = (
    ("6-31-01-03", "电工", ("低压电工", "低压电工作业", "电工作业", "维修电工")),
    ("6-18-02-04", "焊工", ("电焊工", "焊接与热切割作业", "熔化焊接与热切割作业")),
    ("4-10-01-05", "养老护理员", ()),
    ("4-03-02-01", "中式烹调师", ("中式烹饪师",)),
    ("4-03-02-02", "中式面点师", ()),
    ("6-18-01-01", "车工", ("数控车工",)),  # 数控车工: a 工种 of 车工 in the classification
    ("6-18-01-02", "铣工", ()),
    ("DEMO-0001", "叉车司机", ("叉车作业", "场（厂）内专用机动车辆作业")),  # placeholder code
    ("DEMO-0002", "高处作业", ("登高架设作业", "高处安装、维护、拆除作业")),  # placeholder code
    ("DEMO-0003", "制冷作业", ("制冷与空调作业",)),  # placeholder code
    ("DEMO-0004", "次坞打面", ()),  # placeholder code: a special-ability (专项职业能力) item, S7
)


def ensure_demo_occupations() -> int:
    """Bring the occupation table up to the demo's list; returns how many occupations it has."""
    for code, name, aliases in OCCUPATIONS:
        ensure_occupation(code=code, name=name, aliases=aliases)
    return len(OCCUPATIONS)
