"""DeepSeek-V3 special tokens (｜ is U+FF5C, ▁ is U+2581)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SpecialTokens:
    bos: str = "<｜begin▁of▁sentence｜>"
    eos: str = "<｜end▁of▁sentence｜>"
    pad: str = "<｜▁pad▁｜>"
    fim_hole: str = "<｜fim▁hole｜>"
    fim_begin: str = "<｜fim▁begin｜>"
    fim_end: str = "<｜fim▁end｜>"

    def as_list(self) -> list[str]:
        """In id order: they take ids 0..5 of a trained vocabulary."""
        return list(asdict(self).values())

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


DEEPSEEK_V3 = SpecialTokens()
