"""Key schedules recomputed step by step: TLS 1.3 (RFC 8446 §7) and TLS 1.2
(RFC 5246 §5, §6.3, §8.1; RFC 7627).

The dissector calls a schedule as the handshake's messages are read; the
schedule computes what it can from what is known (see ``keys``) and records each
step. Values computed here are compared with the key log and the engine's own
when those have them, and Finished messages and PSK binders are recomputed and
compared with the bytes on the wire.
"""

from __future__ import annotations

import hashlib
import hmac

from ..certs import leaf_public_key, parse_chain
from ..constants import NamedGroup
from ..crypto import prf, signatures
from ..crypto.groups import GROUPS
from ..crypto.hkdf import expand_label, extract
from ..crypto.suites import Suite
from ..errors import TLSError
from ..handshake.common import (
    CLIENT_CERTIFICATE_VERIFY,
    SERVER_CERTIFICATE_VERIFY,
    certificate_verify_content,
)
from .facts import CLIENT, SERVER, Facts
from .fields import Field
from .keys import ConnectionSecrets, KeyMaterial
from .messages import Message
from .steps import Input, Step, Steps

R_SCHEDULE = "RFC 8446 §7.1"
R_KEYS = "RFC 8446 §7.3"


def _transcript(hash_name: str, messages: list[Message]) -> tuple[bytes, str]:
    """Transcript-Hash over ``messages`` (RFC 8446 §4.4.1: after a HelloRetryRequest
    the first ClientHello is replaced by a message_hash message)."""
    data, names = b"", []
    for index, message in enumerate(messages):
        if index == 0 and len(messages) > 1 and messages[1].name == "HelloRetryRequest":
            digest = hashlib.new(hash_name, message.raw).digest()
            data += bytes([254, 0, 0, len(digest)]) + digest
            names.append("message_hash")
        else:
            data += message.raw
            names.append(message.name)
    described = names[0] if len(names) == 1 else f"{names[0]} \u2026 {names[-1]}"
    return hashlib.new(hash_name, data).digest(), (
        f"Transcript-Hash({described}), {len(names)} message(s)")


def _sender_of_finished(sender: str) -> str:
    return "client" if sender == CLIENT else "server"


def _check_field(field: Field | None, expected: bytes, what: str) -> str:
    if field is None:
        return ""
    on_wire = bytes.fromhex(field.value) if isinstance(field.value, str) else b""
    field.check = (f"verified: equals {what}" if hmac.compare_digest(on_wire, expected)
                   else f"DOES NOT MATCH {what} ({expected.hex()})")
    return field.check


def verify_signature(facts: Facts, signer: str, scheme: int, content: bytes,
                     signature: bytes) -> str:
    """Check a signature with the leaf certificate ``signer`` sent."""
    chain = facts.certificates.get(signer)
    if not chain:
        return ""
    try:
        key = leaf_public_key(parse_chain(chain)[0])
        signatures.verify(key, scheme, content, signature)
    except (TLSError, KeyError, ValueError) as error:
        return f"does not verify with the {signer}'s certificate key: {error}"
    return f"verified with the {signer}'s certificate key"


class Schedule:
    """What both versions share: the suite, the steps, and the secrets known."""

    def __init__(self, suite: Suite, facts: Facts, secrets: ConnectionSecrets,
                 keys: KeyMaterial, steps: Steps) -> None:
        self.suite, self.facts, self.secrets, self.keys, self.steps = (
            suite, facts, secrets, keys, steps)
        self.hash_name, self.hash_len = suite.hash_name, suite.hash_len

    def transcript(self, messages: list[Message]) -> tuple[bytes, str]:
        return _transcript(self.hash_name, messages)

    def x25519_shared_secret(self, client_public: bytes, server_public: bytes,
                             stage: str, rfc: str) -> bytes | None:
        """The X25519 shared secret from a private key we were given, as a step."""
        group = GROUPS[NamedGroup.x25519]
        for private in self.keys.x25519_private_keys:
            share = group.generate(lambda n, key=private: key)  # type: ignore[misc]
            if share.public in (client_public, server_public):
                peer = server_public if share.public == client_public else client_public
                owner = "client" if share.public == client_public else "server"
                return self.steps.add(Step(
                    "shared_secret", "X25519", share.complete(peer), rfc, stage=stage,
                    inputs=[Input("private key", text=f"the {owner}'s ephemeral private key",
                                  value=private, secret=True),
                            Input("peer public key", text="the other side's key share",
                                  value=peer)]))
        return None

    def expand(self, name: str, secret_name: str, label: str, context: bytes,
               context_text: str, length: int, stage: str, rfc: str,
               operation: str = "HKDF-Expand-Label") -> bytes:
        secret = self.steps.value(secret_name)
        assert secret is not None
        inputs = [Input("Secret", ref=secret_name)]
        if context or context_text:
            inputs.append(Input("Context", text=context_text, value=context))
        return self.steps.add(Step(
            name, operation, expand_label(self.hash_name, secret, label.encode(), context,
                                          length, self.hash_len),
            rfc, inputs, label=f"tls13 {label}", stage=stage))

    def traffic_keys(self, secret_name: str) -> tuple[str, bytes, str, bytes]:
        """RFC 8446 §7.3: [sender]_write_key and _iv from a traffic secret (once)."""
        key_name, iv_name = f"{secret_name}: key", f"{secret_name}: iv"
        if self.steps.get(key_name) is None:
            self.expand(key_name, secret_name, "key", b"", "", self.suite.key_len,
                        "traffic keys", R_KEYS)
            self.expand(iv_name, secret_name, "iv", b"", "", 12, "traffic keys", R_KEYS)
        key, iv = self.steps.value(key_name), self.steps.value(iv_name)
        assert key is not None and iv is not None
        return key_name, key, iv_name, iv


class Tls13Schedule(Schedule):
    """RFC 8446 §7.1, driven by the messages of the handshake."""

    # Traffic secrets by sender, in the order they protect records.
    def __init__(self, suite: Suite, facts: Facts, secrets: ConnectionSecrets,
                 keys: KeyMaterial, steps: Steps) -> None:
        super().__init__(suite, facts, secrets, keys, steps)
        self.epochs: dict[str, list[str]] = {CLIENT: [], SERVER: []}
        self._psk: bytes | None = None

    # -- stages -------------------------------------------------------------------

    def _early_secret(self, use_psk: bool) -> str | None:
        """Early Secret = HKDF-Extract(0, PSK or 0); None while the PSK is unknown."""
        offered = self.facts.psk_identities
        name = "early_secret" if use_psk or not offered else "early_secret (no PSK)"
        if self.steps.get(name) is not None:
            return name
        zeros = bytes(self.hash_len)
        if use_psk:
            index = self.facts.selected_psk or 0
            if index >= len(offered) or offered[index] not in self.keys.psks:
                return None
            self._psk = self.keys.psks[offered[index]]
            self.steps.add(Step("psk", "given", self._psk, "RFC 8446 §4.6.1", stage="early",
                                source="an earlier connection's ticket",
                                inputs=[Input("identity", text="the PSK identity offered",
                                              value=offered[index])]))
            ikm = Input("IKM", ref="psk")
        else:
            ikm = Input("IKM", text="no PSK: Hash.length zero bytes", value=zeros)
        self.steps.add(Step(name, "HKDF-Extract",
                            extract(self.hash_name, zeros, self._psk if use_psk and self._psk
                                    else zeros), R_SCHEDULE,
                            [Input("salt", text="Hash.length zero bytes", value=zeros), ikm],
                            stage="early"))
        return name

    def client_hello(self, transcript: list[Message]) -> None:
        if not self.facts.psk_identities:
            return
        if self._early_secret(True) is not None:
            self._check_binder(transcript)
        if self.facts.early_data_offered and len(transcript) == 1:
            self._early_traffic(transcript)

    def _check_binder(self, transcript: list[Message]) -> None:
        hello = transcript[-1]
        truncated = hello.raw[: len(hello.raw) - self.facts.binders_length]
        prefix: list[Message] = transcript[:-1]
        data = b"".join(_prefix_bytes(self.hash_name, prefix)) + truncated
        context = hashlib.new(self.hash_name, data).digest()
        self.expand("binder_key", "early_secret", "res binder",
                    hashlib.new(self.hash_name).digest(), "Transcript-Hash() of nothing",
                    self.hash_len, "early", R_SCHEDULE)
        self.expand("binder_key: finished_key", "binder_key", "finished", b"", "",
                    self.hash_len, "early", "RFC 8446 §4.4.4")
        binder = self._hmac("binder", "binder_key: finished_key", context,
                            "Transcript-Hash(ClientHello truncated before the binders)",
                            "RFC 8446 §4.2.11.2")
        if self.facts.binders:
            _check_field(self.facts.binders[0], binder, "HMAC(binder finished_key, hash)")

    def _early_traffic(self, transcript: list[Message]) -> None:
        context, text = self.transcript(transcript)
        name = "client_early_traffic_secret"
        if self.steps.get("early_secret") is not None:
            self.expand(name, "early_secret", "c e traffic", context, text, self.hash_len,
                        "early", R_SCHEDULE, "Derive-Secret")
            self.steps.compare(name, self.secrets.logged.get("CLIENT_EARLY_TRAFFIC_SECRET"),
                               "key log")
        elif "CLIENT_EARLY_TRAFFIC_SECRET" in self.secrets.logged:
            self.steps.given(name, self.secrets.logged["CLIENT_EARLY_TRAFFIC_SECRET"],
                             "key log", R_SCHEDULE, "early",
                             "CLIENT_EARLY_TRAFFIC_SECRET from the key log")
        else:
            return
        self.epochs[CLIENT].append(name)

    def _shared_secret(self) -> bytes | None:
        facts = self.facts
        if facts.server_share is None:
            zeros = bytes(self.hash_len)
            return self.steps.add(Step("shared_secret", "none", zeros, R_SCHEDULE,
                                       stage="handshake", inputs=[Input(
                                           "IKM", text="psk_ke: no key exchange, zeros")]))
        group, server_public = facts.server_share
        engine = self.secrets.engine.get("shared_secret")
        if engine is not None:
            return self.steps.given("shared_secret", engine, "engine", "RFC 8446 §7.4",
                                    "handshake", "the (EC)DHE / KEM shared secret the "
                                    "engine computed")
        if group == NamedGroup.x25519 and group in facts.client_shares:
            return self.x25519_shared_secret(facts.client_shares[group], server_public,
                                             "handshake", "RFC 8446 §7.4.2")
        return None

    def _shared_secret_known(self) -> bool:
        facts = self.facts
        if facts.server_share is None or "shared_secret" in self.secrets.engine:
            return True
        return facts.server_share[0] == NamedGroup.x25519 and bool(self.keys.x25519_private_keys)

    def server_hello(self, transcript: list[Message]) -> None:
        context, text = self.transcript(transcript)
        early = (self._early_secret(self.facts.selected_psk is not None)
                 if self._shared_secret_known() else None)
        shared = self._shared_secret() if early is not None else None
        if early is not None and shared is not None:
            self.expand("derived (early)", early, "derived",
                        hashlib.new(self.hash_name).digest(), "Transcript-Hash() of nothing",
                        self.hash_len, "handshake", R_SCHEDULE, "Derive-Secret")
            inputs = [Input("salt", ref="derived (early)"), Input("IKM", ref="shared_secret")]
            self.steps.add(Step("handshake_secret", "HKDF-Extract",
                                extract(self.hash_name, self.steps.value("derived (early)")
                                        or b"", shared), R_SCHEDULE, inputs, stage="handshake"))
            self.steps.compare("handshake_secret", self.secrets.engine.get("handshake_secret"),
                               "engine")
        elif "handshake_secret" in self.secrets.engine:
            self.steps.given("handshake_secret", self.secrets.engine["handshake_secret"],
                             "engine", R_SCHEDULE, "handshake",
                             "the Handshake Secret the engine derived")
        self._traffic_secrets("handshake_secret", "handshake", context, text, (
            (CLIENT, "c hs traffic", "CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
            (SERVER, "s hs traffic", "SERVER_HANDSHAKE_TRAFFIC_SECRET")))

    def _traffic_secrets(self, stage_secret: str, stage: str, context: bytes, text: str,
                         senders: tuple[tuple[str, str, str], ...]) -> None:
        """Each side's traffic secret of a stage: Derive-Secret from the stage's secret
        when it is known (and compared with the key log), else the key log's value."""
        logged = self.secrets.logged
        for sender, label, log in senders:
            name = f"{sender}_{stage}_traffic_secret" + ("_0" if stage == "application" else "")
            if self.steps.get(stage_secret) is not None:
                self.expand(name, stage_secret, label, context, text, self.hash_len,
                            "master" if stage == "application" else stage, R_SCHEDULE,
                            "Derive-Secret")
                self.steps.compare(name, logged.get(log), "key log")
            elif log in logged:
                self.steps.given(name, logged[log], "key log", R_SCHEDULE, stage,
                                 f"{log} from the key log")
            else:
                continue
            self.epochs[sender].append(name)

    def finished(self, sender: str, transcript: list[Message], verify_data: Field | None
                 ) -> None:
        """A Finished was read; ``transcript`` ends with it."""
        base = f"{sender}_handshake_traffic_secret"
        if self.steps.get(base) is not None:
            context, text = self.transcript(transcript[:-1])
            key_name = f"{sender} finished_key"
            self.expand(key_name, base, "finished", b"", "", self.hash_len, "handshake",
                        "RFC 8446 §4.4.4")
            expected = self._hmac(f"{sender} Finished verify_data", key_name, context, text,
                                  "RFC 8446 §4.4.4")
            _check_field(verify_data, expected, "HMAC(finished_key, transcript hash)")
        if sender == SERVER:
            self._master(transcript)
        elif self.steps.get("master_secret") is not None:
            context, text = self.transcript(transcript)
            self.expand("resumption_master_secret", "master_secret", "res master", context,
                        text, self.hash_len, "master", R_SCHEDULE, "Derive-Secret")

    def _master(self, transcript: list[Message]) -> None:
        context, text = self.transcript(transcript)
        logged = self.secrets.logged
        if self.steps.get("handshake_secret") is not None:
            self.expand("derived (handshake)", "handshake_secret", "derived",
                        hashlib.new(self.hash_name).digest(), "Transcript-Hash() of nothing",
                        self.hash_len, "master", R_SCHEDULE, "Derive-Secret")
            zeros = bytes(self.hash_len)
            self.steps.add(Step("master_secret", "HKDF-Extract",
                                extract(self.hash_name, self.steps.value("derived (handshake)")
                                        or b"", zeros), R_SCHEDULE,
                                [Input("salt", ref="derived (handshake)"),
                                 Input("IKM", text="Hash.length zero bytes", value=zeros)],
                                stage="master"))
            self.steps.compare("master_secret", self.secrets.engine.get("master_secret"),
                               "engine")
        self._traffic_secrets("master_secret", "application", context, text, (
            (CLIENT, "c ap traffic", "CLIENT_TRAFFIC_SECRET_0"),
            (SERVER, "s ap traffic", "SERVER_TRAFFIC_SECRET_0")))
        if self.steps.get("master_secret") is not None:
            self.expand("exporter_master_secret", "master_secret", "exp master", context, text,
                        self.hash_len, "master", R_SCHEDULE, "Derive-Secret")
            self.steps.compare("exporter_master_secret", logged.get("EXPORTER_SECRET"),
                               "key log")

    def key_update(self, sender: str) -> None:
        """RFC 8446 §7.2: application_traffic_secret_N+1 = Expand-Label(N, "traffic upd")."""
        epochs = self.epochs[sender]
        if not epochs or "application" not in epochs[-1]:
            return
        current = epochs[-1]
        generation = int(current.rsplit("_", 1)[1]) + 1
        name = f"{sender}_application_traffic_secret_{generation}"
        self.expand(name, current, "traffic upd", b"", "", self.hash_len, "key update",
                    "RFC 8446 §7.2")
        epochs.append(name)

    def new_session_ticket(self, ticket: bytes, nonce: bytes) -> None:
        """RFC 8446 §4.6.1: the PSK a later connection resuming with ``ticket`` uses."""
        if self.steps.get("resumption_master_secret") is None:
            return
        name = f"psk for ticket {hashlib.sha256(ticket).hexdigest()[:8]}"
        psk = self.expand(name, "resumption_master_secret", "resumption", nonce,
                          "ticket_nonce", self.hash_len, "resumption", "RFC 8446 §4.6.1")
        self.keys.psks[ticket] = psk

    def certificate_verify(self, sender: str, transcript: list[Message], scheme: int,
                           signature: Field) -> None:
        context, _ = self.transcript(transcript[:-1])
        label = SERVER_CERTIFICATE_VERIFY if sender == SERVER else CLIENT_CERTIFICATE_VERIFY
        content = certificate_verify_content(label, context)
        signature.check = verify_signature(self.facts, sender, scheme, content,
                                           bytes.fromhex(signature.value or ""))

    def _hmac(self, name: str, key_name: str, context: bytes, text: str, rfc: str) -> bytes:
        key = self.steps.value(key_name)
        assert key is not None
        new = getattr(hashlib, self.hash_name)
        return self.steps.add(Step(name, "HMAC", hmac.new(key, context, new).digest(), rfc,
                                   [Input("key", ref=key_name),
                                    Input("message", text=text, value=context)],
                                   stage="handshake", secret=False))


def _prefix_bytes(hash_name: str, prefix: list[Message]) -> list[bytes]:
    """The transcript before a second ClientHello: message_hash(ClientHello1) + HRR."""
    out = []
    for index, message in enumerate(prefix):
        if index == 0 and len(prefix) > 1 and prefix[1].name == "HelloRetryRequest":
            digest = hashlib.new(hash_name, message.raw).digest()
            out.append(bytes([254, 0, 0, len(digest)]) + digest)
        else:
            out.append(message.raw)
    return out


class Tls12Schedule(Schedule):
    """RFC 5246: pre-master secret -> master secret -> key block, with the PRF."""

    def __init__(self, suite: Suite, facts: Facts, secrets: ConnectionSecrets,
                 keys: KeyMaterial, steps: Steps) -> None:
        super().__init__(suite, facts, secrets, keys, steps)
        self.ready = False

    def _pre_master_secret(self) -> bool:
        facts = self.facts
        engine = self.secrets.engine.get("pre_master_secret")
        if engine is not None:
            self.steps.add(self._engine_pre_master_secret(engine))
            return True
        if facts.server_share is not None and facts.server_share[0] == NamedGroup.x25519:
            return self.x25519_shared_secret(facts.client_public, facts.server_share[1],
                                             "key exchange", "RFC 8422 §5.10") is not None
        return False

    def _engine_pre_master_secret(self, value: bytes) -> Step:
        encrypted = self.facts.encrypted_pre_master_secret
        if not encrypted:
            return Step("pre_master_secret", "(EC)DHE", value, "RFC 8422 §5.10",
                        stage="key exchange", source="engine", inputs=[Input(
                            "shares", text="the ECDHE shared secret (the x coordinate) "
                            "computed by the engine from the two public keys")])
        if self.secrets.recorded_by == SERVER:
            operation, text = "RSA decryption", (
                "EncryptedPreMasterSecret from the ClientKeyExchange, decrypted by our "
                "server with its RSA private key (PKCS #1 v1.5, implicit rejection)")
        else:
            operation, text = "RSA encryption", (
                "chosen by our client (client_version + 46 random bytes) and sent "
                "encrypted to the server's certificate key (PKCS #1 v1.5)")
        step = Step("pre_master_secret", operation, value, "RFC 5246 §7.4.7.1",
                    stage="key exchange", source="engine",
                    inputs=[Input("EncryptedPreMasterSecret", text=text, value=encrypted)])
        # RFC 5246 §7.4.7.1: the first two bytes are the ClientHello's version.
        step.check = ("starts with client_version 0303" if value[:2] == b"\x03\x03"
                      else f"starts with {value[:2].hex()}, not the client_version")
        return step

    def key_exchange_done(self, transcript: list[Message]) -> None:
        """After ClientKeyExchange (full handshake) or at the first ChangeCipherSpec."""
        if self.ready:
            return
        self.ready = True
        facts, steps, name = self.facts, self.steps, self.hash_name
        randoms = facts.client_random + facts.server_random
        logged = self.secrets.logged.get("CLIENT_RANDOM")
        if transcript and transcript[-1].msg_type == 16 and self._pre_master_secret():
            pms = steps.value("pre_master_secret") or steps.value("shared_secret") or b""
            if facts.extended_master_secret:
                context, text = self.transcript(transcript)
                value = prf.extended_master_secret(name, pms, context)
                inputs = [Input("secret", ref=_pms_name(steps)),
                          Input("seed", text=f"session_hash = {text}", value=context)]
                label, rfc = "extended master secret", "RFC 7627 §4"
            else:
                value = prf.master_secret(name, pms, facts.client_random, facts.server_random)
                inputs = [Input("secret", ref=_pms_name(steps)),
                          Input("seed", text="client_random + server_random", value=randoms)]
                label, rfc = "master secret", "RFC 5246 §8.1"
            steps.add(Step("master_secret", f"PRF-{name.upper()}", value, rfc, inputs,
                           label=label, stage="master"))
            steps.compare("master_secret", logged, "key log")
        elif logged is not None:
            steps.given("master_secret", logged, "key log", "RFC 5246 §8.1", "master",
                        "CLIENT_RANDOM line of the key log")
        elif "master_secret" in self.secrets.engine:
            steps.given("master_secret", self.secrets.engine["master_secret"], "engine",
                        "RFC 5246 §8.1", "master", "the master secret of the resumed session")
        else:
            return
        self._key_block()

    def _key_block(self) -> None:
        suite, steps = self.suite, self.steps
        master = steps.value("master_secret")
        assert master is not None
        seed = self.facts.server_random + self.facts.client_random
        length = 2 * (suite.key_len + suite.iv_len)
        block = prf.key_block(self.hash_name, master, self.facts.client_random,
                              self.facts.server_random, length)
        steps.add(Step("key_block", f"PRF-{self.hash_name.upper()}", block, "RFC 5246 §6.3",
                       [Input("secret", ref="master_secret"),
                        Input("seed", text="server_random + client_random", value=seed)],
                       label="key expansion", stage="traffic keys"))
        k, v = suite.key_len, suite.iv_len
        parts = {"client_write_key": block[:k], "server_write_key": block[k : 2 * k],
                 "client_write_IV": block[2 * k : 2 * k + v],
                 "server_write_IV": block[2 * k + v :]}
        for part, value in parts.items():
            steps.add(Step(part, "slice", value, "RFC 5246 §6.3",
                           [Input("key_block", ref="key_block")], stage="traffic keys"))

    def keys_for(self, sender: str) -> tuple[str, bytes, str, bytes] | None:
        key_name, iv_name = f"{sender}_write_key", f"{sender}_write_IV"
        key, iv = self.steps.value(key_name), self.steps.value(iv_name)
        if key is None or iv is None:
            return None
        return key_name, key, iv_name, iv

    def finished(self, sender: str, transcript: list[Message], verify_data: Field | None
                 ) -> None:
        master = self.steps.value("master_secret")
        if master is None:
            return
        context, text = self.transcript(transcript[:-1])
        label = f"{_sender_of_finished(sender)} finished"
        value = prf.finished_verify_data(self.hash_name, master, sender == CLIENT, context)
        self.steps.add(Step(f"{sender} Finished verify_data", f"PRF-{self.hash_name.upper()}",
                            value, "RFC 5246 §7.4.9",
                            [Input("secret", ref="master_secret"),
                             Input("seed", text=text, value=context)],
                            label=label, stage="finished", secret=False))
        _check_field(verify_data, value, f'PRF(master_secret, "{label}", Hash(handshake))')


def _pms_name(steps: Steps) -> str:
    return "pre_master_secret" if steps.get("pre_master_secret") else "shared_secret"
