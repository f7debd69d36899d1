"""Request headers of a source, secrets resolved only when building it."""

from __future__ import annotations

from tocsin.errors import SourceError
from tocsin.sources.config import HttpBaseConfig


def resolve_headers(cfg: HttpBaseConfig) -> dict[str, str]:
    """Plain header values from `headers` (SecretStr) and `headers_files`.

    A file's content is used as is, minus a trailing newline. The returned
    dict holds secrets: keep it inside the HTTP client, never log it.
    """
    out = {name: value.get_secret_value() for name, value in cfg.headers.items()}
    for name, path in cfg.headers_files.items():
        try:
            out[name] = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SourceError(
                f"source {cfg.name}: cannot read header {name!r} from {str(path)!r}: "
                f"{exc.strerror or exc}",
                retryable=False,
            ) from None
    return out
