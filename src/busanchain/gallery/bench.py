"""`busanchain bench gallery`: browse, search and token pages under many concurrent clients.

Setup builds a gallery of N published NFTs on a private platform (own anvil with 1 s blocks,
own SQLite, uvicorn on loopback), through the studio service as the API would: studios are
registered and approved, small generated photos are uploaded in batches and issued, and
citizens' claims and publications are relayed by the operator through the outbox in bulk
(each one signed and committed before broadcast; the receipts are awaited together, then
`StudioService.resume_pending` records owners and visibility from the chain). So every row
is a real service row and every token is a real PhotoNFT token, published on chain.

Then C clients in separate processes (as `bench payments` does) request browse, search and
token pages for S seconds. The page URLs are the one list `PAGES` (JSON API) and
`HTML_PAGES` (used when `/gallery` answers with HTML).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import multiprocessing
import pstats
import queue
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from PIL import Image

from busanchain.accounts.service import account_service_for
from busanchain.config import Settings
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import ConfigurationError
from busanchain.domain.roles import Role
from busanchain.gallery.service import gallery_service_for
from busanchain.keys.service import key_service_for
from busanchain.merchants.rules import business_number_check_digit
from busanchain.outbox.nonces import key_lock
from busanchain.outbox.service import OutboxService
from busanchain.platform.benchkit import (
    AppFactory,
    Progress,
    machine_load,
    noop_progress,
    percentile_ms,
    private_platform,
    process_cpu_s,
    serve,
    serve_pool,
)
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio import repository as studio_repo
from busanchain.studio.contracts import sign_publish
from busanchain.studio.service import (
    PUBLISH_TTL_S,
    NearDuplicate,
    StudioService,
    Upload,
    claim_signer,
)

PASSWORD = "bench password 1234"  # noqa: S105 (simulated users on a private node)
STUDIOS = 10
PHOTOGRAPHERS_PER_STUDIO = 3
OWNERS = 20
BATCH = 20  # photos per upload request (the API's maximum)
LOAD_PROCESSES = 2  # the load generator runs outside the server's process (its own GILs)
PROFILED = 50
GOAL_P95_MS = 100.0
SEARCH_WORDS = ("사진관", "Studio 3", "사진가 2", "Kim")
PHOTOGRAPHER_NAMES = ("사진가 {n}", "Kim {n}", "Park {n}")

# The measured URLs, per page kind: one list to change when the HTML pages arrive.
PAGES: dict[str, tuple[str, ...]] = {
    "browse": ("/api/gallery/tokens?limit=24", "/api/gallery/tokens?limit=24&page={after}"),
    "search": (
        "/api/gallery/tokens?studio={studio}&limit=24",
        "/api/gallery/tokens?photographer={photographer}&limit=24",
        "/api/gallery/tokens?from={day}&to={next_day}&limit=24&page={after}",
        "/api/gallery/tokens?q={q}&limit=24",
    ),
    "token": ("/api/gallery/tokens/{token_id}",),
}
HTML_PAGES: dict[str, tuple[str, ...]] = {
    "browse": ("/gallery", "/gallery?page={after}"),
    "search": (
        "/gallery?studio={studio}",
        "/gallery?photographer={photographer}",
        "/gallery?from={day}&to={next_day}&page={after}",
        "/gallery?q={q}",
    ),
    "token": ("/gallery/tokens/{token_id}",),
}


@dataclass(frozen=True)
class Corpus:
    """What the clients may ask for: token ids, studio and photographer ids, the day."""

    token_ids: list[int]
    studio_ids: list[int]
    photographer_ids: list[int]
    day: str


# -- setup -------------------------------------------------------------------------------------


def small_photo(seed: int, size: tuple[int, int] = (480, 360)) -> bytes:
    """A small JPEG of a smooth random colour field (distinct pHash per seed)."""
    rng = random.Random(seed)
    field = Image.frombytes("RGB", (8, 6), rng.randbytes(8 * 6 * 3))
    out = io.BytesIO()
    field.resize(size, Image.Resampling.BICUBIC).save(out, "JPEG", quality=85)
    return out.getvalue()


def _bizno(n: int) -> str:
    nine = f"{310_000_000 + n:09d}"
    return nine + str(business_number_check_digit(nine))


@dataclass
class _Studio:
    owner_id: int
    studio_id: int
    sessions: list[int]
    photographers: list[int]


def _studios(context: PlatformContext, service: StudioService, nfts: int) -> list[_Studio]:
    """Up to STUDIOS approved studios (one per upload batch for a small gallery), each with
    photographers and one session per photographer."""
    accounts = account_service_for(context)
    admin = accounts.create_user("benchadmin", PASSWORD, [Role.ADMIN])
    out = []
    for s in range(max(1, min(STUDIOS, -(-nfts // BATCH)))):
        owner = accounts.create_user(f"benchstudio{s}", PASSWORD, [Role.STUDIO])
        studio = service.register(owner.id, f"벤치 사진관 {s}", f"Bench Studio {s}", _bizno(s), 500)
        service.approve(studio["id"], admin.id)
        people, sessions = [], []
        for p in range(PHOTOGRAPHERS_PER_STUDIO):
            name = PHOTOGRAPHER_NAMES[p % len(PHOTOGRAPHER_NAMES)].format(n=s)
            person = service.add_photographer(owner.id, name, 300)
            people.append(int(person["id"]))
            sessions.append(int(service.create_session(owner.id, f"S{s}-{p}", person["id"])["id"]))
        out.append(_Studio(owner.id, int(studio["id"]), sessions, people))
    return out


def _upload_and_issue(
    service: StudioService, studios: list[_Studio], nfts: int, progress: Progress
) -> list[str]:
    """Upload `nfts` photos in batches and issue each: the claim codes."""
    codes: list[str] = []
    seed = 0
    while len(codes) < nfts:
        batch = len(codes) // BATCH
        studio = studios[batch % len(studios)]
        session_id = studio.sessions[(batch // len(studios)) % len(studio.sessions)]
        count = min(BATCH, nfts - len(codes))
        files = [Upload(f"g{seed + i}.jpg", small_photo(seed + i)) for i in range(count)]
        seed += count
        try:
            photos = service.upload(studio.owner_id, session_id, files)
        except NearDuplicate:
            continue  # fresh seeds next time
        for photo in photos:
            key = f"bench-issue-{photo['id']}"
            _status, answer = service.issue(studio.owner_id, int(photo["id"]), key)
            codes.append(str(answer["claim_code"]))
        progress("upload + issue", len(codes), nfts)
    return codes


def _claim_all(
    service: StudioService, owners: list[int], codes: list[str], progress: Progress
) -> list[int]:
    """Relay every claim through the outbox without waiting; the outbox entry ids."""
    domain, nft = service.domain, service.nft
    chain_id = service.outbox.client.chain_id()
    now = service._chain_time()
    entries = []
    for n, code in enumerate(codes):
        owner = owners[n % len(owners)]
        with key_lock(chain_id, service.operator.address), service.context.unit_of_work() as s:
            record = service._claim_in(s, owner, claim_signer(code), None, domain, nft, now)
            entries.append(int(record.claim_entry_id or 0))
        service.outbox.broadcast(entries[-1])
        progress("claims relayed", n + 1, len(codes))
    return entries


def _publish_all(service: StudioService, owners: list[int], progress: Progress) -> list[int]:
    """Each owner signs `setPublishedWithSig` for each token; the operator relays them in bulk."""
    keys = key_service_for(service.context)
    deadline = service._chain_time() + PUBLISH_TTL_S
    chain_id = service.outbox.client.chain_id()
    entries: list[int] = []
    gas: int | None = None
    with service.context.unit_of_work() as session:
        minted = [
            (p.id, int(p.token_id or 0), p.owner_address)
            for p in studio_repo.photos_owned_by(
                session, [a for o in owners for a in studio_repo.addresses_of_user(session, o)]
            )
        ]
    signers = {s.address: s for s in (keys.signer_for_user(o) for o in owners)}
    nonces = {a: int(service._read("nonces", [a])) for a in signers}
    for n, (photo_id, token_id, owner) in enumerate(minted):
        signer = signers[str(owner)]
        sig = sign_publish(signer, service.domain, token_id, True, nonces[signer.address], deadline)
        nonces[signer.address] += 1
        data = service._calldata("setPublishedWithSig", [token_id, True, deadline, sig])
        with key_lock(chain_id, service.operator.address), service.context.unit_of_work() as s:
            record = studio_repo.photo(s, photo_id, lock=True)
            assert record is not None
            # the first is estimated; later ones from the same owner carry future nonces
            gas = gas or 2 * service.outbox.estimate(service.operator, service.nft.address, data)
            entry = service.outbox.enqueue(
                s,
                signer=service.operator,
                intent="studio.publish",
                to=service.nft.address,
                data=data,
                gas=gas,
                reference=f"photo:{photo_id}",
            )
            record.publish_entry_id, record.publish_target = entry.id, True
            entries.append(entry.id)
        service.outbox.broadcast(entries[-1])
        progress("publications relayed", n + 1, len(minted))
    return entries


def _await_entries(
    outbox: OutboxService, entries: list[int], stage: str, progress: Progress
) -> None:
    """Wait until every entry is mined (the last one first: they are mined in nonce order)."""
    for n, entry_id in enumerate(reversed(entries)):
        outbox.wait(entry_id, 120)
        progress(stage, n + 1, len(entries))


def build_gallery(context: PlatformContext, nfts: int, progress: Progress) -> Corpus:
    """N published NFTs made by the services, minted and published on chain."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    service = StudioService(context)
    studios = _studios(context, service, nfts)
    accounts = account_service_for(context)
    owners = [
        accounts.create_user(f"benchowner{i}", PASSWORD, [Role.CITIZEN]).id for i in range(OWNERS)
    ]
    codes = _upload_and_issue(service, studios, nfts, progress)
    _await_entries(service.outbox, _claim_all(service, owners, codes, progress), "claims", progress)
    service.resume_pending()  # records token ids and owners from the receipts
    published = _publish_all(service, owners, progress)
    _await_entries(service.outbox, published, "publications", progress)
    service.resume_pending()  # reads publication back from the chain, opens the content
    with context.unit_of_work() as session:
        tokens = [
            int(p.token_id or 0)
            for p in studio_repo.photos_owned_by(
                session, [a for o in owners for a in studio_repo.addresses_of_user(session, o)]
            )
            if p.published
        ]
    if len(tokens) != nfts:
        raise ConfigurationError(
            f"Only {len(tokens)} of {nfts} NFTs were published.",
            f"{nfts}개 중 {len(tokens)}개만 공개되었습니다.",
        )
    today = datetime.now(UTC).date()
    return Corpus(
        sorted(tokens),
        [s.studio_id for s in studios],
        [p for s in studios for p in s.photographers],
        today.isoformat(),
    )


# -- load --------------------------------------------------------------------------------------


def page_url(template: str, corpus: Corpus, rng: random.Random) -> str:
    """A concrete URL for a page template, with random but valid parameters."""
    day = datetime.fromisoformat(corpus.day)
    return template.format(
        after=rng.choice(corpus.token_ids),
        studio=rng.choice(corpus.studio_ids),
        photographer=rng.choice(corpus.photographer_ids),
        day=corpus.day,
        next_day=(day + timedelta(days=1)).date().isoformat(),
        q=rng.choice(SEARCH_WORDS),
        token_id=rng.choice(corpus.token_ids),
    )


Sample = tuple[str, float, int, str]
"""(page kind, seconds, HTTP status (0 for a transport error), what went wrong if not 200)."""


async def _fetch(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, bytes]:
    """One keep-alive HTTP/1.1 GET: the status and the body (Content-Length or chunked)."""
    target = quote(path, safe="/?&=:%")
    writer.write(f"GET {target} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    fields = dict(line.lower().split(b":", 1) for line in lines[1:] if b":" in line)
    if b"content-length" in fields:
        return status, await reader.readexactly(int(fields[b"content-length"]))
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):  # chunked
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return status, body


async def _client(
    url: str, pages: dict[str, tuple[str, ...]], corpus: Corpus, seed: int, until: float
) -> list[Sample]:
    """One closed-loop client on its own keep-alive connection, until `until`."""
    rng, kinds, out = random.Random(seed), list(pages), []
    address = httpx.URL(url)
    reader, writer = await asyncio.open_connection(address.host, address.port)
    i = seed
    while time.monotonic() < until:
        kind = kinds[i % len(kinds)]
        i += 1
        path = page_url(rng.choice(pages[kind]), corpus, rng)
        started = time.perf_counter()
        try:
            status, body = await _fetch(reader, writer, path)
            detail = "" if status == 200 else f"{path}: {body[:160].decode(errors='replace')}"
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            status, detail = 0, f"{path}: {type(exc).__name__}"
            writer.close()
            reader, writer = await asyncio.open_connection(address.host, address.port)
        out.append((kind, time.perf_counter() - started, status, detail))
    writer.close()
    return out


async def _clients(
    url: str, pages: dict[str, tuple[str, ...]], corpus: Corpus, first: int, count: int, s: float
) -> list[Sample]:
    until = time.monotonic() + s
    runs = [_client(url, pages, corpus, first + n, until) for n in range(count)]
    return [sample for run in await asyncio.gather(*runs) for sample in run]


def _load_process(
    url: str,
    pages: dict[str, tuple[str, ...]],
    corpus: Corpus,
    first: int,
    clients: int,
    seconds: float,
    go: Any,
    results: Any,
) -> None:
    """One load-generator process: `clients` asyncio clients for `seconds` once `go` is set.

    The clients speak plain HTTP/1.1 over asyncio streams, not httpx in threads: 100 httpx
    threads in one process capped a constant-response server at ~1,500 requests/s with a
    250 ms p95 on this machine (the GIL), so they measured themselves, not the server."""
    results.put(("ready", None))
    go.wait()
    results.put(("done", asyncio.run(_clients(url, pages, corpus, first, clients, seconds))))


def _run_load(
    url: str,
    pages: dict[str, tuple[str, ...]],
    corpus: Corpus,
    clients: int,
    seconds: float,
    progress: Progress,
    worker_pids: Sequence[int] = (),
) -> tuple[list[Sample], float, float]:
    """Clients in LOAD_PROCESSES processes: samples, wall seconds, and the CPU seconds of the
    server: this process and the web worker processes `worker_pids`."""
    spawn = multiprocessing.get_context("spawn")
    go, results = spawn.Event(), spawn.Queue()
    count = max(1, min(LOAD_PROCESSES, clients))
    shares = [clients // count + (1 if i < clients % count else 0) for i in range(count)]
    workers = [
        spawn.Process(
            target=_load_process,
            args=(url, pages, corpus, 1000 * i, shares[i], seconds, go, results),
            daemon=True,
        )
        for i in range(count)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        kind, _payload = results.get(timeout=300)
        assert kind == "ready"
    started, cpu = time.monotonic(), _server_cpu(worker_pids)
    go.set()
    samples: list[Sample] = []
    done = 0
    while done < count:
        progress("load", min(int(time.monotonic() - started), int(seconds)), int(seconds))
        try:
            _kind, payload = results.get(timeout=0.5)
        except queue.Empty:
            continue
        samples.extend(payload)
        done += 1
    wall, cpu = time.monotonic() - started, _server_cpu(worker_pids) - cpu
    for worker in workers:
        worker.join(timeout=30)
    return samples, wall, cpu


def _server_cpu(worker_pids: Sequence[int]) -> float:
    return time.process_time() + sum(process_cpu_s(pid) for pid in worker_pids)


def _figures(samples: list[Sample], wall: float) -> dict[str, Any]:
    ok = [s for s in samples if s[2] == 200]
    return {
        "requests": len(samples),
        "p50_ms": percentile_ms([s[1] for s in ok], 0.5),
        "p95_ms": percentile_ms([s[1] for s in ok], 0.95),
        "requests_per_s": round(len(ok) / wall, 1) if wall else 0.0,
        "errors": dict(Counter(str(s[2]) for s in samples if s[2] != 200)),
        "first_error": next((s[3] for s in samples if s[2] != 200), None),
    }


# -- what the load generator itself can measure -----------------------------------------------

CEILING_BODY = b"x" * 8192  # about one JSON browse answer


async def _constant_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI app that answers every request with the same 8 KiB: the harness's ceiling."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(CEILING_BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": CEILING_BODY})


def _harness_ceiling(
    context: PlatformContext, corpus: Corpus, clients: int, seconds: float, progress: Progress
) -> dict[str, Any]:
    """The same clients against a constant answer served the same way (uvicorn on loopback,
    sharing this machine's cores): the best p95 this harness can report here."""
    with serve(context, lambda _context: _constant_app) as url:
        pages: dict[str, tuple[str, ...]] = {"constant": ("/",)}
        samples, wall, _cpu = _run_load(url, pages, corpus, clients, seconds, progress)
    return {**_figures(samples, wall), "seconds": round(wall, 2), "body_bytes": len(CEILING_BODY)}


FLOOR_PATH = "/__bench/empty"


def add_empty_route(app: Any) -> Any:
    """The platform's app plus one route that does nothing but answer about 8 KiB of JSON,
    as a plain `def` like the gallery routes (so it runs in the same thread pool, behind the
    same middleware: sessions, language, body limit, error handlers)."""

    def empty() -> dict[str, str]:
        return {"x": "x" * (len(CEILING_BODY) - 8)}

    app.add_api_route(FLOOR_PATH, empty, methods=["GET"], include_in_schema=False)
    return app


EMPTY_ROUTE = f"{__name__}:add_empty_route"  # the same, in web worker processes


def _with_empty_route(app_factory: AppFactory) -> AppFactory:
    return lambda context: add_empty_route(app_factory(context))


def _app_floor(
    context: PlatformContext,
    app_factory: AppFactory,
    corpus: Corpus,
    clients: int,
    seconds: float,
    progress: Progress,
    workers: int = 1,
) -> dict[str, Any]:
    """The same clients against a route that does no work, in the platform's own app: the
    best p95 any gallery page could have with this web stack on this machine."""
    served = serve_pool(context, _with_empty_route(app_factory), workers, wraps=[EMPTY_ROUTE])
    with served as (url, pids):
        pages: dict[str, tuple[str, ...]] = {"empty": (FLOOR_PATH,)}
        samples, wall, cpu = _run_load(url, pages, corpus, clients, seconds, progress, pids)
    return {
        **_figures(samples, wall),
        "seconds": round(wall, 2),
        "server_cpu_share_of_one_core": round(cpu / wall, 2) if wall else None,
        "route": f"GET {FLOOR_PATH}: a sync route answering {len(CEILING_BODY)} bytes of JSON",
    }


# -- where time goes ---------------------------------------------------------------------------


def _profile(context: PlatformContext, kind: str, corpus: Corpus) -> dict[str, Any]:
    """cProfile of PROFILED requests of one kind, run on the gallery service in-process."""
    service, rng = gallery_service_for(context), random.Random(7)
    calls: list[Callable[[], Any]] = []
    for _ in range(PROFILED):
        if kind == "token":
            calls.append(partial(service.token, rng.choice(corpus.token_ids)))
        elif kind == "token_page":
            calls.append(partial(service.token_view, rng.choice(corpus.token_ids), None))
        else:
            after = rng.choice(corpus.token_ids) if kind == "browse" else None
            filters = {"studio": rng.choice(corpus.studio_ids)} if kind == "search" else {}
            calls.append(partial(service.tokens, filters, after, 24))
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for call in calls:
        call()
    profile.disable()
    per_call_ms = 1000 * (time.perf_counter() - started) / PROFILED
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values()) or 1.0
    rpc = sum(  # round trips: single calls and batches
        row[0]
        for key, row in stats.items()
        if key[0].endswith("chain/client.py") and key[2] in ("request", "batch")
    )
    cumulative = sorted(stats.items(), key=lambda item: item[1][3], reverse=True)
    ours = [
        f"{Path(key[0]).name}:{key[2]} {100 * row[3] / total:.0f}%"
        for key, row in cumulative
        if "busanchain" in key[0] or "sqlalchemy/orm/session" in key[0] or "httpx" in key[0]
    ][:10]
    return {
        "kind": kind,
        "service_ms_per_request": round(per_call_ms, 1),
        "chain_rpc_calls_per_request": round(rpc / PROFILED, 1),
        "cumulative": ours,
    }


def _eth_call_ms(context: PlatformContext, corpus: Corpus) -> float:
    """Milliseconds of one `ownerOf` eth_call on the private node (mean of 100)."""
    service = StudioService(context)
    started = time.perf_counter()
    for n in range(100):
        service._read("ownerOf", [corpus.token_ids[n % len(corpus.token_ids)]])
    return round(10 * (time.perf_counter() - started), 2)


PAGE_SETS = {"json_api": PAGES, "html": HTML_PAGES}
PAGE_MODES = ("auto", "api", "html", "both")


def _page_sets(url: str, mode: str) -> list[str]:
    """Which URL sets to measure: `auto` is the HTML pages if `/gallery` serves HTML."""
    if mode == "api":
        return ["json_api"]
    if mode in ("html", "both"):
        return ["html", "json_api"] if mode == "both" else ["html"]
    answer = httpx.get(f"{url}/gallery", timeout=30)
    html = answer.headers.get("content-type", "").startswith("text/html")
    return ["html"] if answer.status_code == 200 and html else ["json_api"]


def _measure(
    url: str,
    pages: dict[str, tuple[str, ...]],
    corpus: Corpus,
    clients: int,
    seconds: float,
    progress: Progress,
    worker_pids: Sequence[int] = (),
) -> dict[str, Any]:
    """One load run over one URL set: overall and per-kind figures, the server's CPU."""
    load_before = machine_load()
    samples, wall, server_cpu = _run_load(
        url, pages, corpus, clients, seconds, progress, worker_pids
    )
    by_kind = {k: _figures([s for s in samples if s[0] == k], wall) for k in pages}
    return {
        "urls": {k: list(v) for k, v in pages.items()},
        "seconds": round(wall, 2),
        **_figures(samples, wall),
        "by_page": by_kind,
        "worst_page": max(by_kind, key=lambda k: by_kind[k]["p95_ms"] or 0.0),
        "server_cpu_s": round(server_cpu, 1),
        "server_cpu_share_of_one_core": round(server_cpu / wall, 2) if wall else None,
        "load_before": load_before,
        "load_after": machine_load(),
    }


# -- the benchmark -----------------------------------------------------------------------------


def run_gallery_bench(
    nfts: int,
    clients: int,
    seconds: float = 20.0,
    pages: str = "auto",
    progress: Progress | None = None,
    app_factory: AppFactory | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """p50/p95 and requests/s of browse, search and token pages over N published NFTs.

    `pages`: auto (HTML pages if served, else the JSON API), api, html or both (one setup,
    two load runs). `app_factory` is `busanchain.web.app.create_app` (the CLI passes it).
    """
    if app_factory is None:
        raise ConfigurationError(
            "The gallery bench needs the web app factory (run `busanchain bench gallery`).",
            "갤러리 벤치마크에는 웹 앱 팩토리가 필요합니다(`busanchain bench gallery`로 실행).",
        )
    if pages not in PAGE_MODES:
        raise ConfigurationError(
            f"pages: one of {', '.join(PAGE_MODES)}.", f"pages: {', '.join(PAGE_MODES)} 중 하나."
        )
    report = progress or noop_progress
    root = Settings.from_env().root
    with private_platform(root, "busanchain-gallerybench-") as (context, _node):
        started = time.perf_counter()
        corpus = build_gallery(context, nfts, report)
        setup_s = time.perf_counter() - started
        with serve_pool(context, app_factory, workers) as (url, pids):
            runs = {
                name: _measure(url, PAGE_SETS[name], corpus, clients, seconds, report, pids)
                for name in _page_sets(url, pages)
            }
        floor = _app_floor(
            context, app_factory, corpus, clients, min(seconds, 10.0), report, workers
        )
        ceiling = _harness_ceiling(context, corpus, clients, min(seconds, 10.0), report)
        kinds = ("browse", "search", "token", "token_page")
        profiles = {kind: _profile(context, kind, corpus) for kind in kinds}
        eth_call = _eth_call_ms(context, corpus)
    main = runs[next(iter(runs))]
    return {
        "benchmark": "gallery_pages",
        "nfts": nfts,
        "clients": clients,
        "web_workers": workers,
        "seconds": main["seconds"],
        "pages": next(iter(runs)),
        "p50_ms": main["p50_ms"],
        "p95_ms": main["p95_ms"],
        "requests_per_s": main["requests_per_s"],
        "errors": main["errors"],
        "by_page": main["by_page"],
        "runs": runs,
        "goal_p95_ms": GOAL_P95_MS,
        "harness_ceiling": ceiling,
        "app_floor": floor,
        "bottleneck": {
            "p95_over_goal": any((r["p95_ms"] or 0.0) > GOAL_P95_MS for r in runs.values()),
            "profiles": profiles,
            "note": "cProfile of the gallery service calls behind each page kind, in-process "
            f"({PROFILED} calls each, no HTTP)",
        },
        "chain_reads": {
            "rpc_calls_per_request": {
                kind: profile["chain_rpc_calls_per_request"] for kind, profile in profiles.items()
            },
            "eth_call_ms": eth_call,
        },
        "setup_s": round(setup_s, 1),
        "machine": machine_load(),
        "node": "anvil, --block-time 1, gas limit 1e9",
        "database": "sqlite",
    }
