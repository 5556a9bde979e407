"""The policy paragraphs the rules cite, as people read them: by the document's title and number,
never by the seed's file number or the ids of our own rule digest.

The code and the ledger keep the short references (``002 §五(十九)``, ``RULES.md §6 N3（浙江）``,
docs/rules.md explains them); the pages show ``source_label`` of them:
《诸暨市职业技能提升行动实施方案（2019-2021）》（诸政办发〔2020〕6号）§五(十九)."""

import re

from django.utils.translation import gettext_lazy as _

# The seed documents (docs/rules.md, "The seed documents"): their titles and numbers as printed.
DOCUMENTS = {
    "000": _("《温岭市职业技能培训三年计划行动方案》（温人社发〔2023〕29号）"),
    "001": _("《关于进一步加强职业能力建设工作的意见》（浙人社发〔2022〕32号）"),
    "002": _("《诸暨市职业技能提升行动实施方案（2019-2021）》（诸政办发〔2020〕6号）"),
    "003": _("《2021年“工匠人才”赶超发展行动方案》（温人社发〔2021〕32号）"),
    "004": _("《威海市职业技能提升行动实施方案（2019—2021年）》（威人社字〔2019〕73号）"),
}

_SEED = re.compile(r"^(00[0-4])(?![0-9])\s*(.*)$")
# RULES.md §6: the national fund rules and provincial practice beyond the seeds, with the regions.
_PRACTICE = re.compile(r"^RULES\.md\s*§6\s*N\d+\s*[（(](.+)[）)]$")
_SEPARATORS = re.compile(r"\s*(?:,|，|;|；|\s/\s)\s*")


def _part_label(part: str) -> str | None:
    seed = _SEED.match(part)
    if seed:
        title, paragraph = str(DOCUMENTS[seed.group(1)]), seed.group(2).strip()
        # Chinese runs the paragraph on after the closing bracket; English leaves a space.
        return f"{title}{' ' if paragraph and title[-1:].isascii() else ''}{paragraph}"
    practice = _PRACTICE.match(part)
    if practice:
        return str(_("%(regions)s的通行做法") % {"regions": practice.group(1)})
    if part.startswith("RULES.md") or part.startswith("STORIES"):
        return None  # our own digest of the documents cited above it: not a source people can look up
    return part


def source_label(source: str) -> str:
    """``002 §五(十九), RULES.md M5`` → 《诸暨市职业技能提升行动实施方案（2019-2021）》（诸政办发〔2020〕6号）§五(十九)."""
    labels = [label for part in _SEPARATORS.split(source or "") if part.strip() and (label := _part_label(part.strip()))]
    return "；".join(dict.fromkeys(labels))
