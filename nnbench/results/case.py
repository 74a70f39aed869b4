"""A case's identity: layer × style × mode × size × dtype [× devices ×
strategy × scaling], its id, its group and the command that reruns it.
Plain data: run files, comparisons and reports name cases by it."""

from __future__ import annotations

import dataclasses

# Every API style nnbench times, in report order. Which NNX jit modes a run
# has depends on its Flax release (``layers.styles.STYLES``, in this order);
# reports read run files of any release without importing Flax.
STYLE_ORDER = ("jax", "linen", "nnx", "nnx_split", "haiku", "nnx_tree", "nnx_cached", "nnx_partial")


@dataclasses.dataclass(frozen=True, order=True)
class Case:
    layer: str
    style: str
    mode: str
    size: str
    dtype: str = "float32"
    source: str | None = None  # ``MODULE:ATTR`` of a user's case list; None: the catalog
    # The device axis (see ``nnbench.run.scaling``). A case with ``strategy``
    # None is the plain single-device case: its id, group and dict are the
    # same as before these fields existed.
    devices: int = 1
    strategy: str | None = None
    scaling: str = "strong"  # "strong": fixed global batch; "weak": fixed per-device batch

    @property
    def sharded(self) -> bool:
        return self.strategy is not None

    @property
    def _axis(self) -> str:
        return f"/{self.strategy}/{self.scaling}/d{self.devices}" if self.sharded else ""

    @property
    def id(self) -> str:
        return f"{self.layer}/{self.style}/{self.mode}/{self.size}/{self.dtype}{self._axis}"

    @property
    def group(self) -> str:
        """Everything but the style: the row on which styles are compared."""
        return f"{self.layer}/{self.mode}/{self.size}/{self.dtype}{self._axis}"

    def to_dict(self) -> dict[str, str]:
        d = dataclasses.asdict(self)
        if d["source"] is None:
            del d["source"]  # catalog cases keep the original five keys
        if not self.sharded:  # plain cases keep their old, shorter dict
            for k in ("devices", "strategy", "scaling"):
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Case:
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})

    def command(self) -> str:
        """The command that reruns just this case."""
        if self.source is not None:
            return f"nnbench run --cases {self.source}"
        axis = f" --devices {self.devices} --strategy {self.strategy} --scaling {self.scaling}" if self.sharded else ""
        return (
            f"nnbench run --layer {self.layer} --style {self.style} --mode {self.mode} "
            f"--size {self.size} --dtype {self.dtype}{axis}"
        )
