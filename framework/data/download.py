"""Fetching a data set's files from its mirrors without ever poisoning the cache.

Each file is streamed into a temporary file beside its destination while its MD5
is computed; only a file of the right size and checksum is moved into place, with
``os.replace``, which is atomic. On any failure the temporary file is removed, so
an HTTP error page, a truncated body or an interrupted transfer never lands in
the data folder, and two processes downloading at once each move a complete file
into place. Any network, TLS or HTTP error and any checksum mismatch moves on to
the next mirror; when every mirror has failed, one ``DownloadError`` lists each
failure and says how to place the files by hand.

Environment variables: ``MNIST_MIRRORS`` (comma-separated base URLs, tried before
the built-in mirrors; ``{dataset}`` in a URL is replaced by the data set's name)
and ``MNIST_OFFLINE=1`` (never touch the network).

Two processes that miss the same file both download it; there is no lock
between them, only the guarantee that neither can corrupt the other's result.
"""

import hashlib
import http.client
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from framework.data import sources
from framework.data.locations import dataset_dir, find_files

logger = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = 30.0
"""Seconds to wait on any one network operation (connect, each read)."""

CHUNK_SIZE = 1 << 20

USER_AGENT = "mnist-mlp-lab/0.1 (course data loader; Python-urllib)"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class DownloadError(OSError):
    """No mirror delivered a valid file.

    Attributes
    ----------
    summary : str
        The reason in one line, for warnings.
    """

    def __init__(self, message, summary=None):
        super().__init__(message)
        self.summary = summary or message.splitlines()[0]


class OfflineError(DownloadError):
    """Files are missing and downloads are switched off."""


class MirrorFailure(Exception):
    """One mirror did not deliver one valid file; the message says why."""

    def __init__(self, reason, *, unreachable=False):
        super().__init__(reason)
        self.unreachable = unreachable


def offline_requested(offline=None):
    """Whether downloads are off: ``offline`` if given, else ``MNIST_OFFLINE``.

    Raises
    ------
    ValueError
        If ``MNIST_OFFLINE`` holds something other than 1/0, true/false,
        yes/no or on/off.
    """
    if offline is not None:
        return offline
    value = os.environ.get("MNIST_OFFLINE", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"MNIST_OFFLINE={os.environ['MNIST_OFFLINE']!r} is not understood: "
        "set it to 1 to stay offline or 0 to allow downloads"
    )


def mirror_urls(dataset):
    """The base URLs to try for a data set, ``MNIST_MIRRORS`` first.

    Returns
    -------
    list of str
        Base URLs ending in "/", without duplicates.

    Raises
    ------
    ValueError
        If an entry of ``MNIST_MIRRORS`` is not an http, https or file URL.
    """
    urls = []
    for entry in os.environ.get("MNIST_MIRRORS", "").split(","):
        entry = entry.strip().replace("{dataset}", dataset)
        if not entry:
            continue
        if not entry.startswith(("http://", "https://", "file:")):
            raise ValueError(
                f"MNIST_MIRRORS holds {entry!r}, which is not a base URL; give "
                "comma-separated http://, https:// or file: URLs"
            )
        urls.append(entry)
    urls.extend(sources.MIRRORS.get(dataset, ()))
    urls = [url if url.endswith("/") else url + "/" for url in urls]
    return list(dict.fromkeys(urls))


def ensure_files(dataset, folder, *, offline=False, progress=True):
    """Find a data set's four files in a data folder, downloading missing ones.

    Parameters
    ----------
    dataset : str
        "mnist" or "fashion-mnist".
    folder : pathlib.Path
        The data folder (see ``framework.data.locations``).
    offline : bool, default False
        Raise ``OfflineError`` instead of downloading.
    progress : bool, default True
        Show a progress bar per download on stderr.

    Returns
    -------
    dict of str to pathlib.Path
        The file for each role of ``sources.FILE_NAMES``.

    Raises
    ------
    OfflineError
        If files are missing and ``offline`` is set.
    DownloadError
        If a missing file could not be had from any mirror.
    """
    found = find_files(dataset, folder)
    missing = [role for role, path in found.items() if path is None]
    if not missing:
        return found

    target = dataset_dir(dataset, folder)
    names = [sources.FILE_NAMES[role] + ".gz" for role in missing]
    if offline:
        raise OfflineError(*_offline_message(dataset, names, folder, target))

    target.mkdir(parents=True, exist_ok=True)
    unreachable = {}
    for role, name in zip(missing, names, strict=True):
        found[role] = fetch_file(dataset, name, target, progress, unreachable)
    return found


def fetch_file(dataset, name, target, progress=True, unreachable=None):
    """Download one file of a data set into ``target``, trying each mirror.

    Parameters
    ----------
    dataset : str
        Key of ``sources.CHECKSUMS`` and ``sources.MIRRORS``.
    name : str
        The file's name, e.g. "train-images-idx3-ubyte.gz".
    target : pathlib.Path
        Existing folder to place the file in.
    progress : bool, default True
        Show a progress bar on stderr.
    unreachable : dict of str to str, optional
        Mirrors that could not be reached before, with the reason; they are
        skipped, and mirrors found unreachable now are added.

    Returns
    -------
    pathlib.Path
        ``target / name``, complete and verified.

    Raises
    ------
    DownloadError
        If no mirror delivered a file with the expected size and MD5.
    """
    checksum = sources.CHECKSUMS[dataset][name]
    unreachable = {} if unreachable is None else unreachable
    failures = []
    for base in mirror_urls(dataset):
        url = base + name
        if base in unreachable:
            failures.append((url, f"skipped, unreachable before: {unreachable[base]}"))
            continue
        try:
            path = download_file(url, target / name, checksum, progress=progress)
        except MirrorFailure as failure:
            logger.info("Mirror failed for %s: %s", url, failure)
            failures.append((url, str(failure)))
            if failure.unreachable:
                unreachable[base] = str(failure)
            continue
        logger.info("Downloaded %s from %s", name, url)
        return path

    raise DownloadError(*_failure_message(dataset, name, failures, target))


def download_file(url, dest, checksum, *, progress=True, timeout=None):
    """Download ``url`` to ``dest`` if it matches ``checksum``.

    Parameters
    ----------
    url : str
    dest : pathlib.Path
        Final path; its folder must exist. Replaced atomically on success,
        untouched on failure.
    checksum : sources.FileChecksum
        Expected MD5, and size unless None.
    progress : bool, default True
        Show a byte progress bar on stderr.
    timeout : float, optional
        Seconds per network operation; default ``DOWNLOAD_TIMEOUT``.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    MirrorFailure
        On any network, TLS or HTTP error, a short or oversized body, an HTML
        page, or a checksum mismatch.
    OSError
        If the local file cannot be written.
    """
    timeout = DOWNLOAD_TIMEOUT if timeout is None else timeout
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise _connection_failure(error, timeout) from None

    with response:
        length = _announced_length(response, checksum)
        return _stream_to_file(response, Path(dest), checksum, length, progress)


def _connection_failure(error, timeout):
    """Turn an exception from ``urlopen`` into a MirrorFailure."""
    if isinstance(error, urllib.error.HTTPError):
        return MirrorFailure(f"HTTP {error.code} {error.reason}")
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return MirrorFailure(f"no answer within {timeout:g} s", unreachable=True)
    if isinstance(reason, FileNotFoundError):
        return MirrorFailure(f"not found ({reason})")
    if isinstance(error, ValueError):
        return MirrorFailure(f"invalid URL ({error})", unreachable=True)
    return MirrorFailure(f"cannot connect ({reason})", unreachable=True)


def _announced_length(response, checksum):
    """Check the response headers; return the announced length or None."""
    content_type = response.headers.get("Content-Type", "")
    if content_type.lower().startswith("text/html"):
        raise MirrorFailure(
            f"the server sent an HTML page (Content-Type: {content_type}) "
            "instead of the file"
        )
    announced = response.headers.get("Content-Length")
    length = int(announced) if announced and announced.isdigit() else None
    if length is not None and checksum.size and length != checksum.size:
        raise MirrorFailure(
            f"the server announces {length:,} bytes, expected {checksum.size:,}"
        )
    return length


def _stream_to_file(response, dest, checksum, length, progress):
    """Copy the body into a temporary file, verify it, move it to ``dest``."""
    fd, temporary = tempfile.mkstemp(
        dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
    )
    try:
        with os.fdopen(fd, "wb") as out:
            md5, size, head = _copy_body(response, out, length, dest.name, progress)
            out.flush()
            os.fsync(out.fileno())
        _verify(md5, size, head, length, checksum)
        os.replace(temporary, dest)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return dest


def _copy_body(response, out, length, label, progress):
    """Write the body to ``out``; return (md5 hex, bytes written, first bytes)."""
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    head = b""
    bar = tqdm(
        total=length,
        desc=label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=not progress,
    )
    with bar:
        while chunk := _read_chunk(response, size):
            md5.update(chunk)
            out.write(chunk)
            head = head or chunk[:64]
            size += len(chunk)
            bar.update(len(chunk))
    return md5.hexdigest(), size, head


def _read_chunk(response, received):
    """Read the next chunk of the body; network trouble is a MirrorFailure."""
    try:
        return response.read(CHUNK_SIZE)
    except (OSError, http.client.HTTPException) as error:
        raise MirrorFailure(
            f"transfer interrupted after {received:,} bytes ({error!r})"
        ) from None


def _verify(md5, size, head, length, checksum):
    """Raise MirrorFailure unless the body is complete and matches ``checksum``."""
    if length is not None and size != length:
        raise MirrorFailure(
            f"transfer cut short: received {size:,} of {length:,} bytes"
        )
    if md5 == checksum.md5 and (checksum.size is None or size == checksum.size):
        return
    hint = " (the body is an HTML page)" if head.lstrip()[:1] == b"<" else ""
    raise MirrorFailure(
        f"checksum mismatch: received {size:,} bytes with MD5 {md5}, expected "
        f"{_describe(checksum)}{hint}"
    )


def _describe(checksum):
    """'9,912,422 bytes with MD5 f68b…' or 'MD5 f68b…' when the size is unknown."""
    if checksum.size is None:
        return f"MD5 {checksum.md5}"
    return f"{checksum.size:,} bytes with MD5 {checksum.md5}"


def _file_table(dataset):
    """The expected files of a data set, one indented line each."""
    rows = sources.CHECKSUMS[dataset].items()
    return "\n".join(f"  {name}  {_describe(checksum)}" for name, checksum in rows)


def _failure_message(dataset, name, failures, target):
    """Return (message, one-line summary) for a file no mirror delivered."""
    title = sources.TITLES[dataset]
    tried = "\n".join(f"  {url}: {reason}" for url, reason in failures)
    if not failures:
        tried = "  (no mirrors: the table is empty and MNIST_MIRRORS is unset)"
    message = (
        f"Could not download {title} file {name} from any mirror:\n{tried}\n"
        f"The {title} files are:\n{_file_table(dataset)}\n"
        f"To install them by hand, download them from any mirror and place them, "
        f"gzipped or not, in {target}\n"
        "(or in a folder named by MNIST_DATA_DIR or data_dir). MNIST_MIRRORS "
        "(comma-separated base URLs) adds mirrors to try first."
    )
    reasons = "; ".join(dict.fromkeys(reason for _, reason in failures))
    mirrors = "1 mirror" if len(failures) == 1 else f"{len(failures)} mirrors"
    summary = f"could not download {name} from {mirrors}: {reasons or 'none set'}"
    return message, summary


def _offline_message(dataset, names, folder, target):
    """Return (message, one-line summary) for files missing while offline."""
    title = sources.TITLES[dataset]
    missing = ", ".join(names)
    message = (
        f"{title} is not available offline: {missing} (gzipped or not) missing "
        f"from {target} and {folder}, and downloads are off (offline=True or "
        f"MNIST_OFFLINE=1).\nThe {title} files are:\n{_file_table(dataset)}\n"
        f"Place them in {target} by hand, or run "
        f"'python -m framework.data download --dataset {dataset}' while online."
    )
    summary = f"offline and {missing} not found in {target}"
    return message, summary
