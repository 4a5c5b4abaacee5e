"""A bulletin's post spends its request token's ``jti`` in the admission transaction
(ADR 0020), and is refused as a replay exactly as any other request is (PROTOCOL §6):
replayed whole, replayed in the same batch, after a refusal before the transaction,
after a refusal inside it, and across routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from api._kit import Caller, Reply, World, assert_problem, bulletin, new_jti, token

from exchange.crypto.envelope import seal
from exchange.crypto.keys import EncryptionPrivateKey, EncryptionPublicKey

pytestmark = pytest.mark.asyncio(loop_scope="module")

POST = "/v1/bulletins"


@dataclass
class Scene:
    world: World
    kz: Caller
    uz_key: EncryptionPublicKey
    stray_key: EncryptionPublicKey  # registered nowhere: an envelope sealed to it is refused

    def envelope(self, *, to: EncryptionPublicKey | None = None) -> bytes:
        b = bulletin("KZ", to=["UZ"])
        return seal(b, self.kz.signer, [to or self.uz_key]).encode()

    def post(self, body: bytes, *, jti: str | None = None, ctype: str = "application/jose") -> Post:
        claims = {} if jti is None else {"jti": jti}
        tok = token(
            self.kz.signer,
            self.kz.client_id,
            aud=self.world.wire.aud,
            method="POST",
            path=POST,
            body=body,
            claims=claims,
        )
        return Post(self, body, tok, ctype)

    async def read_directory(self, jti: str) -> Reply:
        """GET /v1/directory with a token carrying ``jti``."""
        wire = self.world.wire
        tok = token(
            self.kz.signer,
            self.kz.client_id,
            aud=wire.aud,
            method="GET",
            path="/v1/directory",
            claims={"jti": jti},
        )
        return await wire.send("GET", "/v1/directory", bearer=tok)


@dataclass
class Post:
    scene: Scene
    body: bytes
    bearer: str
    ctype: str

    async def send(self) -> Reply:
        wire = self.scene.world.wire
        return await wire.send(
            "POST", POST, body=self.body, bearer=self.bearer, content_type=self.ctype
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(world: World) -> AsyncIterator[Scene]:
    for party in ("KZ", "UZ"):
        await world.party(party)
    await world.encryption_key("KZ")
    uz = await world.encryption_key("UZ")
    kz = await world.client("KZ", "ops", ("poster", "reader"))
    stray = EncryptionPrivateKey.generate("x25519").public
    yield Scene(world, kz, uz, stray)


async def test_a_replayed_post_is_refused_not_answered_with_its_receipt(scene: Scene) -> None:
    post = scene.post(scene.envelope())
    assert (await post.send()).status == 201
    assert_problem(await post.send(), 401, "unauthorized")


async def test_a_re_post_under_a_fresh_token_gets_the_first_receipt(scene: Scene) -> None:
    envelope = scene.envelope()
    first = await scene.post(envelope).send()
    assert first.status == 201
    again = await scene.post(envelope).send()
    assert again.status == 200
    assert again.data == first.data


async def test_one_token_sent_at_once_many_times_is_accepted_once(scene: Scene) -> None:
    """The copies reach one admission batch: the transaction, not a check before it,
    lets one through."""
    for _ in range(4):
        post = scene.post(scene.envelope())
        replies = await asyncio.gather(*(post.send() for _ in range(6)))
        assert sorted(r.status for r in replies) == [201] + [401] * 5
        for r in replies:
            if r.status != 201:
                assert_problem(r, 401, "unauthorized")


async def test_one_jti_on_two_different_posts_at_once_passes_once(scene: Scene) -> None:
    jti = new_jti()
    posts = [scene.post(scene.envelope(), jti=jti) for _ in range(2)]
    replies = await asyncio.gather(*(p.send() for p in posts))
    assert sorted(r.status for r in replies) == [201, 401]


async def test_a_post_refused_before_its_transaction_spends_its_jti(scene: Scene) -> None:
    """Wrong media type, a broken envelope: refused before the admission transaction,
    yet replaying the request is answered as a replay."""
    for post in (
        scene.post(scene.envelope(), ctype="application/json"),
        scene.post(b"not-a-jws"),
    ):
        first = await post.send()
        assert first.status in (400, 415), first.raw
        assert_problem(await post.send(), 401, "unauthorized")


async def test_a_post_refused_inside_its_transaction_spends_its_jti(scene: Scene) -> None:
    """Sealed to a key that is not UZ's: the recipient-kid check in the transaction
    refuses it, and the transaction that refused it spent the token."""
    post = scene.post(scene.envelope(to=scene.stray_key))
    first = await post.send()
    assert 400 <= first.status < 500 and first.status != 401, first.raw
    assert_problem(await post.send(), 401, "unauthorized")


async def test_a_jti_spent_on_another_route_cannot_post(scene: Scene) -> None:
    jti = new_jti()
    assert (await scene.read_directory(jti)).status == 200
    assert_problem(await scene.post(scene.envelope(), jti=jti).send(), 401, "unauthorized")


async def test_a_posts_jti_cannot_be_spent_again_on_another_route(scene: Scene) -> None:
    jti = new_jti()
    assert (await scene.post(scene.envelope(), jti=jti).send()).status == 201
    assert_problem(await scene.read_directory(jti), 401, "unauthorized")


async def test_a_forged_post_does_not_burn_the_victims_jti(scene: Scene) -> None:
    jti = new_jti()
    envelope = scene.envelope()
    forger = scene.post(envelope, jti=jti)
    forged = Post(scene, envelope, forger.bearer[:-4] + "AAAA", forger.ctype)
    assert_problem(await forged.send(), 401, "unauthorized")
    assert (await scene.post(envelope, jti=jti).send()).status == 201
