"""``exchange admin …`` (the operator's commands) and ``exchange directory``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from exchange.cli import admin_manage, key_lifecycle
from exchange.cli._common import (
    add_profile,
    client_arg,
    client_for,
    csv_list,
    group_arg,
    kid_arg,
    party_arg,
    print_json,
    read_data_file,
    table,
)
from exchange.crypto.keys import parse_encryption_jwk
from exchange.errors import InputError
from exchange.keyfiles import (
    PUBLIC_FILE,
    fingerprint,
    has_private_material,
    read_public_bundle,
)
from exchange.keystore import public_signing_jwk as keystore_public_jwk
from exchange.vocab import CLIENT_ROLES, GROUP_ROLES, PARTY_KINDS

__all__ = ["add_parsers", "public_encryption_jwk", "public_signing_jwk"]


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    admin = sub.add_parser(
        "admin",
        help="operator commands: parties, clients, keys, groups, members",
        description="Change the directory through the admin API. Uses the operator's "
        "admin profile (keys/OPERATOR/admin unless --profile or EXCHANGE_PROFILE).",
    )
    asub = admin.add_subparsers(dest="admin_command", metavar="COMMAND", required=True)

    party = asub.add_parser("party", help="parties").add_subparsers(
        dest="what", metavar="COMMAND", required=True
    )
    p = _leaf(party, "add", help="add a party (a State, an organisation or a feed)")
    p.add_argument(
        "id", metavar="ID", type=party_arg, help="e.g. KZ (ISO 3166-1 alpha-2 for States)"
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--kind", choices=PARTY_KINDS, default="state")
    p.set_defaults(func=party_add)

    client = asub.add_parser("client", help="clients").add_subparsers(
        dest="what", metavar="COMMAND", required=True
    )
    p = _leaf(client, "add", help="register a client's public signing key")
    p.add_argument("client_id", metavar="CLIENT_ID", type=client_arg, help="e.g. KZ/ops")
    p.add_argument(
        "--roles", type=csv_list, required=True, help="comma-separated: poster,reader[,admin]"
    )
    _key_source(p, "signing.jwk")
    key_lifecycle.add_expires(p)
    p.set_defaults(func=client_add)

    enc = asub.add_parser("enc-key", help="encryption keys").add_subparsers(
        dest="what", metavar="COMMAND", required=True
    )
    p = _leaf(enc, "add", help="register a party's public encryption key (made active)")
    p.add_argument("party", metavar="PARTY", type=party_arg)
    _key_source(p, "encryption.jwk")
    key_lifecycle.add_expires(p)
    p.set_defaults(func=enc_key_add)

    p = _leaf(asub, "revoke", help="revoke a signing or encryption key by its kid")
    p.add_argument(
        "kid",
        metavar="KID",
        type=kid_arg,
        help="a kid may begin with '-': write it after '--' (admin revoke -- -Xy...)",
    )
    p.set_defaults(func=revoke)

    group = asub.add_parser("group", help="groups").add_subparsers(
        dest="what", metavar="COMMAND", required=True
    )
    p = _leaf(group, "add", help="add a coordination group")
    p.add_argument("id", metavar="ID", type=group_arg, help="e.g. cac-avsec")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=group_add)

    member = asub.add_parser("member", help="group membership").add_subparsers(
        dest="what", metavar="COMMAND", required=True
    )
    p = _leaf(member, "set", help="add a party to a group or change its role")
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("party", metavar="PARTY", type=party_arg)
    p.add_argument("role", metavar="ROLE", choices=GROUP_ROLES, help="chair|member|observer")
    p.set_defaults(func=member_set)
    p = _leaf(member, "remove", help="remove a party from a group")
    p.add_argument("group", metavar="GROUP", type=group_arg)
    p.add_argument("party", metavar="PARTY", type=party_arg)
    p.set_defaults(func=member_remove)

    admin_manage.add_leaves({"party": party, "client": client, "group": group, "member": member})
    key_lifecycle.add_admin_leaves(client, asub, _leaf, _key_source)  # issue 18

    p = sub.add_parser(
        "directory",
        help="show the verified directory: parties, groups, keys",
        description="Fetch the directory, verify the server's signature on it against the "
        "pinned server key, and print it.",
    )
    add_profile(p, admin=True)
    p.add_argument("--json", action="store_true", help="print the verified document")
    p.set_defaults(func=show_directory)


def _leaf(sub: argparse._SubParsersAction[Any], name: str, **kw: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, **kw)
    add_profile(p, admin=True)
    return p


def _key_source(p: argparse.ArgumentParser, filename: str) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--public",
        metavar="FILE",
        help="the public.json a State's 'exchange keygen' wrote (public keys only)",
    )
    src.add_argument(
        "--key", metavar="PROFILE_DIR", help="a profile folder on this machine; its public.json"
    )
    src.add_argument("--jwk", metavar="FILE", help="a public JWK file")


def public_signing_jwk(jwk: object) -> dict[str, str]:
    """A public signing JWK (private, public or a token reference); private key material
    is refused, never stripped and sent."""
    if has_private_material(jwk):
        raise InputError("this key holds private key material: send only public keys")
    return keystore_public_jwk(jwk)


def public_encryption_jwk(jwk: object) -> dict[str, str]:
    if has_private_material(jwk):
        raise InputError("this key holds private key material: send only public keys")
    return parse_encryption_jwk(jwk).to_jwk()


def _read_key(args: argparse.Namespace, member: str) -> tuple[object, dict[str, Any] | None]:
    """The JWK to register and, from a public.json, the whole hand-off file."""
    if args.jwk:
        raw = read_data_file(Path(args.jwk))
        if has_private_material(raw):
            raise InputError(f"{args.jwk} holds private key material: send only public keys")
        return raw, None
    path = Path(args.public) if args.public else Path(args.key) / PUBLIC_FILE
    bundle = read_public_bundle(path)
    if member not in bundle:
        raise InputError(f"{path} has no {member} key (made with --no-encryption?)")
    return bundle[member], bundle


async def party_add(args: argparse.Namespace) -> int:
    body = {"id": args.id, "name": args.name, "kind": args.kind}
    async with client_for(args, admin=True) as c:
        out = await c.admin("POST", "/v1/admin/parties", body)
    print(f"added party {out['id']} ({out['kind']}): {out['name']}; directory v{out['version']}")
    return 0


async def client_add(args: argparse.Namespace) -> int:
    client_id: str = args.client_id
    party = client_id.split("/", 1)[0]
    bad = sorted(set(args.roles) - set(CLIENT_ROLES))
    if bad:
        raise InputError(f"unknown role {', '.join(bad)}: roles are {', '.join(CLIENT_ROLES)}")
    raw, bundle = _read_key(args, "signing")
    if bundle is not None and bundle["client_id"] != client_id:
        raise InputError(f"that public.json is for {bundle['client_id']}, not {client_id}")
    jwk = public_signing_jwk(raw)
    body = {"id": client_id, "party": party, "roles": args.roles, "jwk": jwk}
    body |= key_lifecycle.expires_member(args)
    async with client_for(args, admin=True) as c:
        out = await c.admin("POST", "/v1/admin/clients", body)
    roles = ",".join(out["roles"])
    print(f"added client {out['id']} ({roles}), kid {out['kid']}; directory v{out['version']}")
    _print_fingerprint(bundle)
    return 0


async def enc_key_add(args: argparse.Namespace) -> int:
    raw, bundle = _read_key(args, "encryption")
    if bundle is not None and bundle["party"] != args.party:
        raise InputError(f"that public.json holds a key of {bundle['party']}, not {args.party}")
    jwk = public_encryption_jwk(raw)
    body: dict[str, Any] = {"jwk": jwk} | key_lifecycle.expires_member(args)
    path = f"/v1/admin/parties/{args.party}/encryption-keys"
    async with client_for(args, admin=True) as c:
        out = await c.admin("POST", path, body)
    alg = jwk.get("alg", "?")
    print(
        f"added encryption key {out['kid']} ({alg}) for {out['party']}, now active; "
        f"directory v{out['version']}"
    )
    _print_fingerprint(bundle)
    return 0


def _print_fingerprint(bundle: dict[str, Any] | None) -> None:
    if bundle is not None:
        print(f"  fingerprint {fingerprint(bundle)}: it must be the one the State reads to you")


async def revoke(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        out = await c.admin("POST", f"/v1/admin/keys/{args.kid}/revoke")
    print(f"revoked key {out['kid']}; directory v{out['version']}")
    return 0


async def group_add(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        out = await c.admin("POST", "/v1/admin/groups", {"id": args.id, "name": args.name})
    print(f"added group {out['id']}: {out['name']}; directory v{out['version']}")
    return 0


def _member_path(args: argparse.Namespace) -> str:
    return f"/v1/admin/groups/{args.group}/members/{args.party}"


async def member_set(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        out = await c.admin("PUT", _member_path(args), {"role": args.role})
    print(f"{out['party']} is {out['role']} of {out['group']}; directory v{out['version']}")
    return 0


async def member_remove(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        out = await c.admin("DELETE", _member_path(args))
    print(f"removed {out['party']} from {out['group']}; directory v{out['version']}")
    return 0


async def show_directory(args: argparse.Namespace) -> int:
    async with client_for(args, admin=True) as c:
        d = await c.directory()
        server_kid = c.server_kid
    doc = d.doc
    if args.json:
        print_json(doc)
        return 0
    print(f"Directory version {doc['version']}, signed by the server key {server_kid} (verified)")
    print()
    print("Parties")
    print(table(("ID", "KIND", "NAME"), [(p["id"], p["kind"], p["name"]) for p in doc["parties"]]))
    print()
    print("Clients")
    rows = [(c["id"], ",".join(c["roles"]), c["status"], c["kid"]) for c in doc["clients"]]
    print(table(("CLIENT", "ROLES", "STATUS", "SIGNING KID"), rows))
    print()
    print("Encryption keys")
    rows = [(k["party"], k["alg"], k["status"], k["kid"]) for k in doc["encryption_keys"]]
    print(table(("PARTY", "ALG", "STATUS", "KID"), rows) if rows else "(none)")
    print()
    print("Groups")
    if not doc["groups"]:
        print("(none)")
    for g in doc["groups"]:
        print(f"{g['id']}: {g['name']}")
        order = {r: i for i, r in enumerate(GROUP_ROLES)}
        members = sorted(g["members"], key=lambda m: (order.get(m["role"], 9), m["party"]))
        for role in GROUP_ROLES:
            names = [m["party"] for m in members if m["role"] == role]
            if names:
                print(f"  {role + 's':<10} {' '.join(names)}")
        for s in g["subscriptions"]:
            types = ",".join(s["types"]) if s["types"] else "any type"
            prio = f", priority {s['min_priority']} or higher" if s["min_priority"] else ""
            print(f"  subscribed to {s['source']} ({types}{prio})")
    return 0
