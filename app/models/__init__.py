"""SQLAlchemy tables, one module each; importing this package registers them all."""

from app.models.adjudication import Adjudication
from app.models.annotation import Annotation
from app.models.annotation_history import AnnotationHistory
from app.models.api_token import ApiToken
from app.models.audit_event import AuditEvent
from app.models.base import Base
from app.models.document import Document
from app.models.idempotency_key import IdempotencyKey
from app.models.import_job import ImportJob, ImportStatus
from app.models.item import Item
from app.models.label_issue import LabelIssue
from app.models.label_tally import LabelTally
from app.models.lease import Lease
from app.models.model_version import ModelVersion, RankEntry
from app.models.oracle import Oracle, Suggestion
from app.models.project import Project
from app.models.project_member import ProjectMember, ProjectRole
from app.models.review_request import ReviewRequest
from app.models.training_run import RunStatus, TrainingRun
from app.models.user import Role, User
from app.models.web_session import WebSession

__all__ = [
    "Adjudication",
    "Annotation",
    "AnnotationHistory",
    "ApiToken",
    "AuditEvent",
    "Base",
    "Document",
    "IdempotencyKey",
    "ImportJob",
    "ImportStatus",
    "Item",
    "LabelIssue",
    "LabelTally",
    "Lease",
    "ModelVersion",
    "Oracle",
    "Project",
    "ProjectMember",
    "ProjectRole",
    "RankEntry",
    "ReviewRequest",
    "Role",
    "RunStatus",
    "Suggestion",
    "TrainingRun",
    "User",
    "WebSession",
]
