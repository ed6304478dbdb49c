"""Statistics without identities (issue 17): case, referral and identification figures in
the Counter-Trafficking Data Collaborative's (CTDC) variables and age bands, made
k-anonymous before anyone sees them.

The quasi-identifiers — what someone could know of a person from elsewhere — are the year of
registration, gender, age band, citizenship and country of assistance. Every published cell
(a combination of their values) counts at least `k` (11) people. Cases whose combination is
rarer are **generalised** step by step, local recoding of only those cases: first their
citizenship is withheld (`*`), then their age band becomes the majority status (minor or
adult), then their gender is withheld, then their year; those still in a group smaller than
`k` are **suppressed** (left out, and only their total number is said). The figures inside a
cell (identification status, types of exploitation, means of control, referrals) are counts
of its people and add no quasi-identifier.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from mpa_contracts.vocabularies import (
    AgeBand,
    ExploitationType,
    IdentificationStatus,
    MeansOfControl,
    Sex,
    is_child,
)

K_ANONYMITY = 11
WITHHELD = "*"

# CTDC's exploitation variables; the types it has no variable for count as "other".
CTDC_EXPLOITATION: dict[ExploitationType, str] = {
    ExploitationType.FORCED_LABOUR: "isForcedLabour",
    ExploitationType.SEXUAL_EXPLOITATION: "isSexualExploit",
    ExploitationType.FORCED_MARRIAGE: "isForcedMarriage",
    ExploitationType.FORCED_MILITARY: "isForcedMilitary",
    ExploitationType.SLAVERY_AND_SIMILAR_PRACTICES: "isSlaveryAndPractices",
    ExploitationType.REMOVAL_OF_ORGANS: "isOrganRemoval",
    ExploitationType.FORCED_CRIMINALITY: "isOtherExploit",
    ExploitationType.FORCED_BEGGING: "isOtherExploit",
    ExploitationType.OTHER: "isOtherExploit",
}
# CTDC's means-of-control variables: meansOfControlDebtBondage, ...
CTDC_MEANS_OF_CONTROL: dict[MeansOfControl, str] = {
    means: "meansOfControl" + "".join(part.capitalize() for part in means.value.split("_"))
    for means in MeansOfControl
}


@dataclass(frozen=True)
class StatisticsRecord:
    """One case as the statistics see it: codes and counts, no id."""

    year: int
    gender: Sex
    age_band: AgeBand
    citizenship: str | None
    country: str
    identification: IdentificationStatus | None
    exploitation_types: frozenset[ExploitationType] = frozenset()
    means_of_control: frozenset[MeansOfControl] = frozenset()
    referrals: int = 0
    referrals_completed: int = 0


@dataclass(frozen=True)
class QuasiIdentifiers:
    """A cell's key, in CTDC's variables; `*` where a value was withheld."""

    yearOfRegistration: str
    gender: str
    ageBroad: str
    majorityStatus: str
    citizenship: str
    countryOfAssistance: str


@dataclass
class Cell:
    key: QuasiIdentifiers
    generalisation: int  # how many steps of the ladder its cases went through
    victims: int = 0
    identification: Counter[str] = field(default_factory=Counter)
    exploitation: Counter[str] = field(default_factory=Counter)
    means_of_control: Counter[str] = field(default_factory=Counter)
    referrals: int = 0
    referrals_completed: int = 0


@dataclass(frozen=True)
class AnonymisedStatistics:
    k: int
    cells: list[Cell]
    included: int  # cases in the published cells
    suppressed: int  # cases left out: their group stayed smaller than k
    generalised: int  # cases published with at least one value withheld


def _key(record: StatisticsRecord) -> QuasiIdentifiers:
    return QuasiIdentifiers(
        yearOfRegistration=str(record.year),
        gender=record.gender.value,
        ageBroad=record.age_band.value,
        majorityStatus="minor" if is_child(record.age_band) else "adult",
        citizenship=record.citizenship or "unknown",
        countryOfAssistance=record.country,
    )


# The generalisation ladder: each step withholds one more quasi-identifier.
LADDER: tuple[Callable[[QuasiIdentifiers], QuasiIdentifiers], ...] = (
    lambda key: replace(key, citizenship=WITHHELD),
    lambda key: replace(key, ageBroad=WITHHELD),
    lambda key: replace(key, gender=WITHHELD),
    lambda key: replace(key, yearOfRegistration=WITHHELD),
)


def anonymise(records: Iterable[StatisticsRecord], k: int = K_ANONYMITY) -> AnonymisedStatistics:
    """The k-anonymous cells of `records` (see the module's docstring)."""
    pending: list[tuple[QuasiIdentifiers, StatisticsRecord]] = [(_key(r), r) for r in records]
    published: dict[tuple[QuasiIdentifiers, int], list[StatisticsRecord]] = {}
    for level in range(len(LADDER) + 1):
        groups: dict[QuasiIdentifiers, list[tuple[QuasiIdentifiers, StatisticsRecord]]]
        groups = defaultdict(list)
        for key, record in pending:
            groups[key].append((key, record))
        pending = []
        for key, members in groups.items():
            if len(members) >= k:
                published[(key, level)] = [record for _, record in members]
            elif level < len(LADDER):
                pending.extend((LADDER[level](key), record) for _, record in members)
            else:
                pending.extend(members)
    cells = [_cell(key, level, members) for (key, level), members in published.items()]
    cells.sort(key=lambda c: (c.generalisation, *vars(c.key).values()))
    return AnonymisedStatistics(
        k=k,
        cells=cells,
        included=sum(c.victims for c in cells),
        suppressed=len(pending),
        generalised=sum(c.victims for c in cells if c.generalisation),
    )


def _cell(key: QuasiIdentifiers, level: int, members: Sequence[StatisticsRecord]) -> Cell:
    cell = Cell(key=key, generalisation=level, victims=len(members))
    for record in members:
        status = record.identification.value if record.identification else "not_assessed"
        cell.identification[status] += 1
        for variable in {CTDC_EXPLOITATION[t] for t in record.exploitation_types}:
            cell.exploitation[variable] += 1
        for means in record.means_of_control:
            cell.means_of_control[CTDC_MEANS_OF_CONTROL[means]] += 1
        cell.referrals += record.referrals
        cell.referrals_completed += record.referrals_completed
    return cell
