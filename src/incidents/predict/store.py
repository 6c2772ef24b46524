"""Local models on disk: `<local target folder>/models/<dep.env>/v0001/`, one folder per training run,
the newest used for scoring. `meta.json` holds everything that is data (encoder, row counts, the
volume model's parameters); `estimators.joblib` holds only scikit-learn's fitted estimators. joblib
files are pickles: load models only from a folder you trust (your own .incidents/). The last
KEEP versions are kept."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from incidents.errors import ConfigError
from incidents.predict.history import Encoder
from incidents.predict.local import Constant, IncidentModels
from incidents.predict.volume import VolumeModel
from incidents.project.deployment import Deployment

KEEP = 5
_VERSION = re.compile(r"v(\d{4,})")


@dataclass
class Stored:
    version: str
    trained_at: dt.datetime
    path: Path
    incidents: IncidentModels
    volume: VolumeModel | None
    meta: dict[str, Any]


def models_dir(dep: Deployment) -> Path:
    from incidents.targets import local_dir

    return local_dir(dep.project) / "models" / dep.env.name


def _versions(root: Path) -> list[tuple[int, Path]]:
    if not root.is_dir():
        return []
    found = ((_VERSION.fullmatch(p.name), p) for p in root.iterdir() if p.is_dir())
    return sorted((int(m.group(1)), p) for m, p in found if m)


def save(dep: Deployment, models: IncidentModels, volume: VolumeModel | None,
         trained_at: dt.datetime, extra: dict[str, Any]) -> Stored:
    """Write a new version (into a temporary folder, then renamed: a crash leaves no half model)."""
    import joblib
    import sklearn

    root = models_dir(dep)
    try:
        root.mkdir(parents=True, exist_ok=True)
        number = (_versions(root)[-1][0] + 1) if _versions(root) else 1
        version = f"v{number:04d}"
        meta = {
            "version": version, "env": dep.env.name, "trained_at": trained_at.isoformat(),
            "sklearn": sklearn.__version__, "encoder": models.encoder.codes,
            "training_rows": models.training_rows,
            "constants": {k: m.value for k, m in models.classifiers.items() if isinstance(m, Constant)},
            "volume": asdict(volume) if volume else None, **extra,
        }
        estimators = {"classifiers": {k: m for k, m in models.classifiers.items() if not isinstance(m, Constant)},
                      "quantiles": models.quantiles}
        staging = Path(tempfile.mkdtemp(prefix=".training-", dir=root))
        joblib.dump(estimators, staging / "estimators.joblib")
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        os.replace(staging, root / version)
    except OSError as exc:
        raise ConfigError(f"cannot write the model: {exc.strerror or exc}", key=str(root)) from None
    for _, old in _versions(root)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return Stored(version, trained_at, root / version, models, volume, meta)


def load_latest(dep: Deployment) -> Stored | None:
    """The newest stored version, or None when there is none."""
    versions = _versions(models_dir(dep))
    if not versions:
        return None
    path = versions[-1][1]
    try:
        import joblib

        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        estimators = joblib.load(path / "estimators.joblib")
    except Exception as exc:  # a half-copied folder, or a scikit-learn that cannot read it
        raise ConfigError(f"cannot read the stored model ({type(exc).__name__}: {exc}); run "
                          "`incidents predict train` to train a new one", key=str(path)) from None
    classifiers = {**estimators["classifiers"], **{k: Constant(v) for k, v in meta["constants"].items()}}
    models = IncidentModels(Encoder(meta["encoder"]), classifiers, estimators["quantiles"], meta["training_rows"])
    volume = _volume(meta["volume"]) if meta.get("volume") else None
    return Stored(meta["version"], dt.datetime.fromisoformat(meta["trained_at"]), path, models, volume, meta)


def _volume(data: dict[str, Any]) -> VolumeModel:
    return VolumeModel(**{**data, "start": dt.date.fromisoformat(str(data["start"]))})
