"""`busanchain bench mint`: from a 12-megapixel upload to an NFT visible in the gallery.

A private platform (own anvil, own SQLite database, uvicorn on loopback) with an approved
studio. For each generated 12 MP camera JPEG, through the public HTTP API: the studio uploads
it (multipart), issues a claim code, a citizen claims it with "also show it in the gallery"
ticked (the operator relays one `claimAndPublish`), and the clock stops when an anonymous
visitor sees the token through the gallery's public API. Photos run one after another, and
optionally again with K at a time. As the same run's baseline, as many fresh photos then go
the two-step way: claim, then publish (two relayed transactions, two blocks). Setup (users,
the studio's approval) goes through the services directly: an admin's approval over HTTP
needs a TOTP login, which is not what is measured.
"""

from __future__ import annotations

import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from busanchain.accounts.service import account_service_for
from busanchain.config import Settings
from busanchain.deployment.service import DeploymentService
from busanchain.domain.errors import BusanchainError, ConfigurationError
from busanchain.domain.roles import Role
from busanchain.merchants.rules import business_number_check_digit
from busanchain.outbox.service import OutboxService
from busanchain.platform.benchkit import (
    AppFactory,
    Progress,
    machine_load,
    noop_progress,
    percentile,
    percentile_ms,
    private_platform,
    serve,
)
from busanchain.platform.context import PlatformContext
from busanchain.platform.operator import operator_signer
from busanchain.studio.demo_art import TWELVE_MEGAPIXELS, demo_photo
from busanchain.studio.images import process_upload
from busanchain.studio.service import StudioService

PASSWORD = "bench password 1234"  # noqa: S105 (simulated users on a private node)
STAGES = ("upload", "issue", "claim_tx", "publish_tx", "visible")
VISIBLE_URLS = (
    # (OpenAPI path that must exist, URL template): the first served one is used
    ("/api/gallery/tokens/{token_id}", "/api/gallery/tokens/{token_id}"),
    ("/api/studio/photos/{photo_id}/image", "/api/studio/photos/{photo_id}/image?size=320"),
)
POLL_S = 0.05
STEP_TIMEOUT_S = 60.0
PIPELINE_SAMPLES = 5


class BenchStepFailed(BusanchainError):
    """A step of the benchmark got an answer it should not have."""

    status = 500
    code = "bench_step_failed"
    default_ko = "벤치마크 단계가 실패했습니다."
    default_en = "A benchmark step failed."


@dataclass
class PhotoTiming:
    """Seconds spent in each stage of one photo, and the whole."""

    stages: dict[str, float] = field(default_factory=dict)
    total: float = 0.0


@dataclass(frozen=True)
class Actor:
    """A logged-in HTTP client and its CSRF header."""

    client: httpx.Client
    csrf: dict[str, str]


def _login(url: str, name: str) -> Actor:
    client = httpx.Client(base_url=url, timeout=STEP_TIMEOUT_S)
    answer = client.post("/api/accounts/login", json={"login": name, "password": PASSWORD})
    _expect(answer, (200,), "login")
    return Actor(client, {"X-CSRF-Token": answer.json()["csrf_token"]})


def _expect(response: httpx.Response, statuses: tuple[int, ...], step: str) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise BenchStepFailed(
            f"{step}: HTTP {response.status_code} {response.text[:300]}",
            f"{step}: HTTP {response.status_code}",
        )
    body = response.json() if response.content else {}
    return body if isinstance(body, dict) else {"items": body}


def _bizno(first_nine: str) -> str:
    return first_nine + str(business_number_check_digit(first_nine))


@dataclass(frozen=True)
class MintWorld:
    """The approved studio's session and the users' names."""

    session_id: int
    studio_name: str
    citizens: list[str]


def _setup(context: PlatformContext, citizens: int) -> MintWorld:
    """Contracts, an admin, an approved studio with a session, and `citizens` citizens."""
    DeploymentService(context, OutboxService(context)).deploy_all(operator_signer(context.settings))
    accounts = account_service_for(context)
    admin = accounts.create_user("benchadmin", PASSWORD, [Role.ADMIN])
    owner = accounts.create_user("benchstudio", PASSWORD, [Role.STUDIO])
    service = StudioService(context)
    studio = service.register(owner.id, "벤치 사진관", "Bench Studio", _bizno("214860001"), 500)
    service.approve(studio["id"], admin.id)
    photographer = service.add_photographer(owner.id, "벤치 사진가", 300)
    session = service.create_session(owner.id, "BENCH-1", photographer["id"])
    names = [f"benchcitizen{i}" for i in range(citizens)]
    for name in names:
        accounts.create_user(name, PASSWORD, [Role.CITIZEN])
    return MintWorld(int(session["id"]), "benchstudio", names)


def _visible_template(url: str) -> str:
    """The first URL template in VISIBLE_URLS that the app serves."""
    paths = httpx.get(f"{url}/openapi.json", timeout=30).json().get("paths", {})
    for path, template in VISIBLE_URLS:
        if path in paths:
            return template
    raise ConfigurationError(
        "Neither the gallery API nor the public photo image is served.",
        "갤러리 API도 공개 사진 주소도 없습니다.",
    )


class MintRun:
    """Photos from upload to public visibility over HTTP, timing each stage.

    With `publish_on_claim` the claim also publishes (one transaction) and `publish_tx` is 0;
    otherwise the citizen publishes after the claim, as a second request and transaction."""

    def __init__(
        self, url: str, world: MintWorld, visible: str, publish_on_claim: bool = True
    ) -> None:
        self.url, self.world, self.visible = url, world, visible
        self.publish_on_claim = publish_on_claim

    def one(self, studio: Actor, citizen: Actor, jpeg: bytes, name: str) -> PhotoTiming:
        """Upload, issue, claim, publish and wait for visibility; seconds per stage."""
        timing, started = PhotoTiming(), time.perf_counter()
        mark = started
        photo_id = self._upload(studio, jpeg, name)
        mark = self._lap(timing, "upload", mark)
        code = self._issue(studio, photo_id)
        mark = self._lap(timing, "issue", mark)
        token_id = self._claim(citizen, code)
        mark = self._lap(timing, "claim_tx", mark)
        if not self.publish_on_claim:
            self._publish(citizen, photo_id)
        mark = self._lap(timing, "publish_tx", mark)
        self._wait_visible(photo_id, token_id)
        self._lap(timing, "visible", mark)
        timing.total = time.perf_counter() - started
        return timing

    @staticmethod
    def _lap(timing: PhotoTiming, stage: str, since: float) -> float:
        now = time.perf_counter()
        timing.stages[stage] = now - since
        return now

    def _upload(self, studio: Actor, jpeg: bytes, name: str) -> int:
        answer = studio.client.post(
            f"/api/studio/sessions/{self.world.session_id}/photos",
            files=[("files", (name, jpeg, "image/jpeg"))],
            headers=studio.csrf,
        )
        return int(_expect(answer, (201,), "upload")["items"][0]["id"])

    def _issue(self, studio: Actor, photo_id: int) -> str:
        answer = studio.client.post(
            f"/api/studio/photos/{photo_id}/issue",
            headers=studio.csrf | {"Idempotency-Key": f"mint-issue-{secrets.token_hex(8)}"},
        )
        return str(_expect(answer, (201,), "issue")["claim_code"])

    def _claim(self, citizen: Actor, code: str) -> int:
        """Claim, repeating with the same key while pending (202); the token id."""
        headers = citizen.csrf | {"Idempotency-Key": f"mint-claim-{secrets.token_hex(8)}"}
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            body: dict[str, Any] = {"code": code, "publish": self.publish_on_claim}
            answer = citizen.client.post("/api/studio/claims", json=body, headers=headers)
            body = _expect(answer, (200, 202), "claim")
            if answer.status_code == 200:
                return int(body["token_id"])
            if time.monotonic() > deadline:
                raise BenchStepFailed("claim: still pending", "수령이 끝나지 않았습니다")

    def _publish(self, citizen: Actor, photo_id: int) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            answer = citizen.client.post(
                f"/api/studio/photos/{photo_id}/publish",
                json={"published": True},
                headers=citizen.csrf,
            )
            _expect(answer, (200, 202), "publish")
            if answer.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise BenchStepFailed("publish: still pending", "공개가 끝나지 않았습니다")

    def _wait_visible(self, photo_id: int, token_id: int) -> None:
        """Poll as an anonymous visitor until the token is served as published."""
        path = self.visible.format(photo_id=photo_id, token_id=token_id)
        deadline = time.monotonic() + STEP_TIMEOUT_S
        with httpx.Client(base_url=self.url, timeout=STEP_TIMEOUT_S) as visitor:
            while True:
                answer = visitor.get(path)
                if answer.status_code == 200 and _published(answer):
                    return
                if time.monotonic() > deadline:
                    raise BenchStepFailed(
                        f"visible: {path} answered {answer.status_code}", "공개 확인 실패"
                    )
                time.sleep(POLL_S)


def _published(answer: httpx.Response) -> bool:
    """An image is public once served; a JSON token must not say it is unpublished."""
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return True
    body = answer.json()
    return not isinstance(body, dict) or body.get("published", True) is not False


def _run_pass(
    run: MintRun,
    photos: list[bytes],
    parallel: int,
    label: str,
    progress: Progress,
) -> dict[str, Any]:
    """Push `photos` through with `parallel` workers (one studio and one citizen login each)."""
    studios = [_login(run.url, run.world.studio_name) for _ in range(parallel)]
    citizens = [_login(run.url, run.world.citizens[i]) for i in range(parallel)]
    timings: list[PhotoTiming] = []
    load_before = machine_load()

    def worker(index: int) -> list[PhotoTiming]:
        mine = []
        for n in range(index, len(photos), parallel):
            name = f"IMG_{label}_{n:04d}.JPG"
            mine.append(run.one(studios[index], citizens[index], photos[n], name))
            timings.append(mine[-1])
            progress(f"mint ({label})", len(timings), len(photos))
        return mine

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for future in [pool.submit(worker, i) for i in range(parallel)]:
            future.result()
    wall = time.perf_counter() - started
    for actor in studios + citizens:
        actor.client.close()
    return _summary(timings, wall, parallel, load_before)


def _summary(
    timings: list[PhotoTiming], wall: float, parallel: int, load_before: dict[str, Any]
) -> dict[str, Any]:
    totals = [t.total for t in timings]
    stages = {
        stage: {
            "p50_ms": percentile_ms([t.stages[stage] for t in timings], 0.5),
            "p95_ms": percentile_ms([t.stages[stage] for t in timings], 0.95),
        }
        for stage in STAGES
    }
    return {
        "photos": len(timings),
        "parallel": parallel,
        "wall_s": round(wall, 2),
        "seconds_per_photo": round(wall / max(len(timings), 1), 3),
        "photo_p50_s": round(statistics.median(totals), 3) if totals else None,
        "photo_p95_s": round(percentile(totals, 0.95) or 0.0, 3),  # rounded like p50
        "stages": stages,
        "load_before": load_before,
        "load_after": machine_load(),
    }


def _pipeline_ms(photos: list[bytes]) -> float:
    """Median milliseconds of the image pipeline alone (in this process) on some photos."""
    times = []
    process_upload(photos[0], "warmup.jpg")
    for n, data in enumerate(photos[:PIPELINE_SAMPLES]):
        started = time.perf_counter()
        process_upload(data, f"sample{n}.jpg")
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 1)


def _generate(count: int, first_seed: int, progress: Progress) -> list[bytes]:
    out = []
    for n in range(count):
        out.append(demo_photo(first_seed + n, size=TWELVE_MEGAPIXELS).jpeg)
        progress("generate 12 MP JPEGs", n + 1, count)
    return out


def run_mint_bench(
    photos: int,
    parallel: int = 1,
    block_time: float | None = 1.0,
    progress: Progress | None = None,
    app_factory: AppFactory | None = None,
    two_step_baseline: bool = True,
) -> dict[str, Any]:
    """Seconds per photo from a 12 MP upload to a published NFT visible to anyone.

    Runs `photos` photos one at a time (claim and publish in one transaction); with
    `parallel` > 1, runs as many fresh photos again with that many workers; with
    `two_step_baseline`, as many fresh photos again one at a time, publishing after the claim.
    `app_factory` is `busanchain.web.app.create_app` (the CLI passes it: the API is served
    exactly as `busanchain up` serves it).
    """
    if app_factory is None:
        raise ConfigurationError(
            "The mint bench needs the web app factory (run `busanchain bench mint`).",
            "발행 벤치마크에는 웹 앱 팩토리가 필요합니다(`busanchain bench mint`로 실행).",
        )
    report = progress or noop_progress
    passes = 1 + (parallel > 1) + two_step_baseline
    jpegs = _generate(photos * passes, 1, report)
    batches = [jpegs[n * photos : (n + 1) * photos] for n in range(passes)]
    root = Settings.from_env().root
    with private_platform(root, "busanchain-mintbench-", block_time) as (context, _node):
        world = _setup(context, max(parallel, 1))
        with serve(context, app_factory) as url:
            run = MintRun(url, world, _visible_template(url))
            sequential = _run_pass(run, batches.pop(0), 1, "sequential", report)
            concurrent = None
            if parallel > 1:
                concurrent = _run_pass(run, batches.pop(0), parallel, f"parallel{parallel}", report)
            two_step = None
            if two_step_baseline:
                run_two = MintRun(url, world, run.visible, publish_on_claim=False)
                two_step = _run_pass(run_two, batches.pop(0), 1, "two-step", report)
    result = _result(sequential, concurrent, run.visible, jpegs, block_time)
    result["two_step_baseline"] = two_step
    return result


def _result(
    sequential: dict[str, Any],
    concurrent: dict[str, Any] | None,
    visible: str,
    jpegs: list[bytes],
    block_time: float | None,
) -> dict[str, Any]:
    pipeline = _pipeline_ms(jpegs)
    upload_p50 = sequential["stages"]["upload"]["p50_ms"] or 0.0
    return {
        "benchmark": "mint_upload_to_gallery",
        "photo": f"{TWELVE_MEGAPIXELS[0]}x{TWELVE_MEGAPIXELS[1]} generated camera JPEG, "
        f"median {statistics.median(len(j) for j in jpegs) / 1e6:.1f} MB",
        "photos": sequential["photos"],
        "seconds_per_photo": sequential["seconds_per_photo"],
        "photo_p50_s": sequential["photo_p50_s"],
        "photo_p95_s": sequential["photo_p95_s"],
        "goal_seconds_per_photo": 2.0,
        "stages_ms": sequential["stages"],
        "upload_split_ms": {
            "pipeline_p50": pipeline,
            "store_and_http_p50": round(max(upload_p50 - pipeline, 0.0), 1),
            "note": "pipeline timed separately in the bench process on the same JPEGs; "
            "store_and_http = upload p50 - pipeline p50",
        },
        "flow": "claim with publish (one claimAndPublish transaction)",
        "sequential": sequential,
        "parallel": concurrent,
        "visible_via": visible,
        "node": f"anvil, block time {block_time or 'automine'}",
        "database": "sqlite",
        "machine": machine_load(),
    }
