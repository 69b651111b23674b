"""Alliance measurement core: instruments as data, exact scoring, reliable change, FHIR.

Pure Python with no Django import, so it can be tested quickly, benchmarked and used from the
command line (``alliance score``) before any web machinery starts.
"""

from .catalogue import (
    instrument_from_dict,
    instrument_to_dict,
    load_instrument,
    shipped_instruments,
)
from .change import (
    CutOffs,
    JacobsonTruaxResult,
    Norms,
    clinical_cutoffs,
    jacobson_truax,
    reliable_change_index,
    reliable_change_threshold,
)
from .model import (
    AnswerOutOfRangeError,
    Band,
    Instrument,
    Item,
    MeasurementError,
    MissingPolicy,
    ResponseOption,
    RiskItem,
    ScoreResult,
    Threshold,
    UnknownInstrumentError,
    UnknownItemError,
)
from .scoring import score
from .talking_therapies import (
    MeasureOutcome,
    PairedOutcome,
    paired_outcome,
    talking_therapies_outcome,
)

__all__ = [
    "AnswerOutOfRangeError",
    "Band",
    "CutOffs",
    "Instrument",
    "Item",
    "JacobsonTruaxResult",
    "MeasureOutcome",
    "MeasurementError",
    "MissingPolicy",
    "Norms",
    "PairedOutcome",
    "ResponseOption",
    "RiskItem",
    "ScoreResult",
    "Threshold",
    "UnknownInstrumentError",
    "UnknownItemError",
    "clinical_cutoffs",
    "instrument_from_dict",
    "instrument_to_dict",
    "jacobson_truax",
    "load_instrument",
    "paired_outcome",
    "reliable_change_index",
    "reliable_change_threshold",
    "score",
    "shipped_instruments",
    "talking_therapies_outcome",
]
