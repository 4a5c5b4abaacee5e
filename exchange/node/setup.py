"""Setting a node up: open the database, check its schema, load the server key
(``open_exchange``), or create all three the first time (``init``)."""

from __future__ import annotations

from pathlib import Path

from exchange.config import ServerConfig
from exchange.crypto.keys import SigningKey, generate_signer
from exchange.errors import InputError
from exchange.keyfiles import (
    Profile,
    profile_dir,
    write_profile,
    write_secret_json,
)
from exchange.keystore import load_signer
from exchange.service.admin import bootstrap
from exchange.service.clock import Clock
from exchange.service.core import Exchange
from exchange.store.db import Database
from exchange.store.migrate import check_exchange_id, check_schema, require_database, upgrade

__all__ = ["init", "new_server_key", "open_exchange"]


async def open_exchange(
    config: ServerConfig, *, migrate: bool = False, clock: Clock | None = None
) -> Exchange:
    db = Database(config.db_url, connect_timeout=config.db_connect_timeout)
    try:
        if migrate:
            await upgrade(db)
        else:
            require_database(db)
            await check_schema(db)
        await check_exchange_id(db, config.exchange_id, record=migrate)
        path = config.server_key_path
        if not path.exists():
            raise InputError(f"no server key at {path}: run 'exchange init' first")
        signer = load_signer(path)
    except BaseException:
        await db.close()
        raise
    return Exchange(config, db, signer, clock=clock)


async def init(
    config: ServerConfig,
    *,
    operator_party: str = "OPERATOR",
    operator_name: str = "Exchange operator",
    admin_name: str = "admin",
    server_url: str | None = None,
    signing: str = "hybrid",
    pkcs11_uri: str | None = None,
) -> Path:
    """Create the schema, the server's signing key and the operator's first admin
    profile (PROTOCOL §9). Returns the admin profile folder.

    Keys are hybrid ML-DSA-65 + Ed25519 unless ``signing="ed25519"``; with ``pkcs11_uri``
    the server key's Ed25519 half is created on that token (issue 20)."""
    key_path = config.server_key_path
    if key_path.exists():
        raise InputError(f"{key_path} exists: this exchange is already initialised")
    client_id = f"{operator_party}/{admin_name}"
    folder = profile_dir(config.keys_dir, client_id)
    if (folder / "signing.jwk").exists():
        raise InputError(f"{folder} already holds a profile")
    db = Database(config.db_url, connect_timeout=config.db_connect_timeout)
    try:
        await upgrade(db)
        await check_exchange_id(db, config.exchange_id, record=True)
        server_signer, server_doc = new_server_key(signing, pkcs11_uri)
        admin_signer = generate_signer("ed25519" if signing == "ed25519" else "hybrid")
        ex = Exchange(config, db, server_signer)
        await bootstrap(
            ex.directory,
            party=operator_party,
            party_name=operator_name,
            client_id=client_id,
            jwk=admin_signer.public.to_jwk(),
        )
    finally:
        await db.close()
    write_secret_json(key_path, server_doc)
    write_secret_json(folder / "signing.jwk", admin_signer.to_private_jwk())
    url = server_url or f"http://{config.host}:{config.port}"
    write_profile(
        folder,
        Profile(client_id, operator_party, url, config.exchange_id, server_signer.kid),
    )
    return folder


def new_server_key(signing: str, pkcs11_uri: str | None) -> tuple[SigningKey, dict[str, str]]:
    """A new server key and what ``signing.jwk`` holds: the private JWK or a token reference."""
    if signing not in ("hybrid", "ed25519"):
        raise InputError("the signing key kind is hybrid or ed25519")
    if pkcs11_uri is not None:
        from exchange.keystore.pkcs11 import create_token_key

        return create_token_key(pkcs11_uri, signing)
    signer = generate_signer("ed25519" if signing == "ed25519" else "hybrid")
    return signer, signer.to_private_jwk()
