"""API v1 for the ledger's checkpoints and proofs: thin views over audit.checkpoints and audit.tree.

Checkpoints and proofs are for auditors and HR heads (the same roles as verify). The
public key is public: it is what anyone needs to check a checkpoint, and nothing else.
An inclusion proof, which gives an entry's payload, is given only for an entry the caller
may read (claims.selectors.ledger_entries_visible_to): any other seq is 404, as if absent.
Checkpoints and consistency proofs hold hashes only: no entry's content.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import merkle, signing
from audit.checkpoints import origin
from audit.models import Checkpoint
from audit.tree import LedgerTree, ledger_size
from claims.bounds import whole_number
from claims.errors import DomainError, InvalidInput, NotInScope
from claims.selectors import ledger_entries_visible_to

from .permissions import MayReadLedger
from .schema import error_response


def errors(*statuses: int) -> dict:
    descriptions = {
        400: "bad input; `fields` names each failing parameter",
        401: "not authenticated",
        403: "the caller's role may not do this",
        404: "no entry of that seq the caller may read (of another jurisdiction, or absent)",
        409: "the ledger lacks entries the proof needs (run audit_verify)",
        503: "no audit signing key is configured",
    }
    return {code: error_response(descriptions[code]) for code in statuses}


class LedgerInconsistent(DomainError):
    """The entries a proof needs are not there: the ledger has gaps (audit_verify names them)."""

    code = "ledger_broken"
    status = 409


class KeyNotConfigured(APIException):
    status_code = 503
    default_code = "unavailable"
    default_detail = "no audit signing key is configured"


# --------------------------------------------------------------------------- shapes


class CheckpointSerializer(serializers.ModelSerializer):
    note = serializers.CharField(read_only=True, help_text="the C2SP tlog-checkpoint signed note, exactly as signed")

    class Meta:
        model = Checkpoint
        fields = ["id", "tree_size", "root_hash", "origin", "key_name", "key_id", "created_at", "note"]
        read_only_fields = fields


class CheckpointResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    created_at = serializers.CharField()
    ok = serializers.BooleanField()
    error = serializers.CharField(help_text="why the checkpoint fails; empty when it checks out")


class LedgerVerifySerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="the chain, every entry's columns and every checkpoint check out")
    events = serializers.IntegerField(help_text="entries that check out before the first bad one")
    head_hash = serializers.CharField()
    first_bad_seq = serializers.IntegerField(allow_null=True)
    chain_ok = serializers.BooleanField()
    copies_ok = serializers.BooleanField(
        help_text="every entry's columns (shown, and deciding who reads it) are copies of its hashed bytes"
    )
    first_bad_copy_seq = serializers.IntegerField(
        allow_null=True, help_text="the first entry whose columns disagree with its bytes"
    )
    bad_copy_columns = serializers.ListField(child=serializers.CharField(), help_text="the columns of that entry that disagree")
    tree_size = serializers.IntegerField(help_text="the highest seq in the ledger")
    checkpoints_checked = serializers.IntegerField()
    checkpoints_ok = serializers.BooleanField()
    checkpoints_failed = serializers.IntegerField()
    first_bad_checkpoint = CheckpointResultSerializer(allow_null=True)
    checkpoint_failures = CheckpointResultSerializer(many=True, help_text="the first 100 failing checkpoints")
    latest_checkpoint = CheckpointResultSerializer(allow_null=True)
    unsigned_entries = serializers.IntegerField(help_text="entries after the latest checkpoint")
    verifier_key = serializers.CharField(allow_null=True)


class PublicKeySerializer(serializers.Serializer):
    verifier_key = serializers.CharField(
        help_text="C2SP note verifier key: <name>+<hex key id>+<base64(0x01 || Ed25519 public key)>"
    )
    key_name = serializers.CharField()
    key_id = serializers.CharField(help_text="hex of the 4-byte key id")
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="base64 of the raw 32-byte Ed25519 public key")
    origin = serializers.CharField(help_text="the first line of every checkpoint of this log")


class InclusionProofSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    leaf_index = serializers.IntegerField(help_text="seq - 1")
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="hex SHA-256(0x00 || the entry's payload bytes)")
    entry_hash = serializers.CharField(help_text="the entry's chain hash, hex SHA-256(payload)")
    payload = serializers.CharField(help_text="the entry's exact canonical bytes (UTF-8)")
    root_hash = serializers.CharField(help_text="the root the proof leads to, recomputed from the ledger")
    proof = serializers.ListField(child=serializers.CharField(), help_text="RFC 6962 audit path, hex, the leaf's sibling first")
    checkpoint = CheckpointSerializer(allow_null=True, help_text="the signed checkpoint of this tree size, if there is one")


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField()
    second = serializers.IntegerField()
    first_root_hash = serializers.CharField()
    second_root_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField(), help_text="RFC 6962 consistency proof, hex")


# --------------------------------------------------------------------------- views


def int_param(request, name: str, *, required: bool = True, minimum: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise InvalidInput(_("缺少参数 %(name)s。") % {"name": name}, fields={name: [_("必填。")]})
        return None
    value = whole_number(raw)
    if value is None or value < minimum:
        raise InvalidInput(
            _("参数 %(name)s 须为不小于 %(min)s 的整数。") % {"name": name, "min": minimum}, fields={name: [_("无效。")]}
        )
    return value


class AuditRoleMixin:
    permission_classes = [IsAuthenticated, MayReadLedger]


@extend_schema(tags=["audit"], summary="Signed checkpoints of the ledger, latest first (auditor and HR head)")
class CheckpointList(AuditRoleMixin, ListAPIView):
    serializer_class = CheckpointSerializer
    queryset = Checkpoint.objects.order_by("-tree_size")


@extend_schema(
    tags=["audit"],
    summary="The public key checkpoints are signed with (public)",
    responses={200: PublicKeySerializer, **errors(503)},
)
class PublicKeyView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        try:
            key = signing.verifier()
        except signing.SigningKeyMissing as error:
            raise KeyNotConfigured() from error
        return Response(
            PublicKeySerializer(
                {
                    "verifier_key": key.text,
                    "key_name": key.name,
                    "key_id": key.key_id.hex(),
                    "algorithm": "ed25519",
                    "public_key": signing.b64(key.public),
                    "origin": origin(),
                }
            ).data
        )


@extend_schema(
    tags=["audit"],
    summary="Inclusion proof of one entry in the tree of a given size (auditor and HR head)",
    parameters=[
        OpenApiParameter("seq", OpenApiTypes.INT, required=True, description="the entry's sequence number"),
        OpenApiParameter("tree_size", OpenApiTypes.INT, description="default: the latest checkpoint's tree size"),
    ],
    responses={200: InclusionProofSerializer, **errors(400, 401, 403, 404, 409)},
)
class InclusionProofView(AuditRoleMixin, APIView):
    def get(self, request):
        seq = int_param(request, "seq", minimum=1)
        tree_size = int_param(request, "tree_size", required=False, minimum=1)
        size = ledger_size()
        if tree_size is None:
            tree_size = Checkpoint.objects.order_by("-tree_size").values_list("tree_size", flat=True).first() or size
        if tree_size > size:
            raise InvalidInput(_("账本只有 %(size)s 条记录。") % {"size": size}, fields={"tree_size": [_("超出账本。")]})
        if seq > tree_size:
            raise InvalidInput(_("序号超出树的大小。"), fields={"seq": [_("超出树的大小。")]})
        entry = ledger_entries_visible_to(request.user).filter(seq=seq).values("payload", "hash").first()
        if entry is None:
            raise NotInScope()
        tree = LedgerTree()
        try:
            proof = tree.inclusion_proof(seq - 1, tree_size)
            root = tree.root(tree_size)
        except LookupError as error:
            raise LedgerInconsistent(_("账本缺少记录，无法给出证明；请运行账本校验。")) from error
        return Response(
            InclusionProofSerializer(
                {
                    "seq": seq,
                    "leaf_index": seq - 1,
                    "tree_size": tree_size,
                    "leaf_hash": merkle.leaf_hash(entry["payload"].encode("utf-8")).hex(),
                    "entry_hash": entry["hash"],
                    "payload": entry["payload"],
                    "root_hash": root.hex(),
                    "proof": [node.hex() for node in proof],
                    "checkpoint": Checkpoint.objects.filter(tree_size=tree_size).first(),
                }
            ).data
        )


@extend_schema(
    tags=["audit"],
    summary="Consistency proof between two tree sizes, e.g. two checkpoints (auditor and HR head)",
    parameters=[
        OpenApiParameter("first", OpenApiTypes.INT, required=True, description="the smaller tree size"),
        OpenApiParameter("second", OpenApiTypes.INT, required=True, description="the larger tree size"),
    ],
    responses={200: ConsistencyProofSerializer, **errors(400, 401, 403, 409)},
)
class ConsistencyProofView(AuditRoleMixin, APIView):
    def get(self, request):
        first = int_param(request, "first")
        second = int_param(request, "second")
        size = ledger_size()
        if second > size:
            raise InvalidInput(_("账本只有 %(size)s 条记录。") % {"size": size}, fields={"second": [_("超出账本。")]})
        if first > second:
            raise InvalidInput(_("first 不能大于 second。"), fields={"first": [_("大于 second。")]})
        tree = LedgerTree()
        try:
            roots = tree.root(first), tree.root(second)
            proof = tree.consistency_proof(first, second)
        except LookupError as error:
            raise LedgerInconsistent(_("账本缺少记录，无法给出证明；请运行账本校验。")) from error
        return Response(
            ConsistencyProofSerializer(
                {
                    "first": first,
                    "second": second,
                    "first_root_hash": roots[0].hex(),
                    "second_root_hash": roots[1].hex(),
                    "proof": [node.hex() for node in proof],
                }
            ).data
        )
