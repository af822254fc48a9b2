"""The screens' project dependencies (``app.projects.access``), for the signed-in user."""

from typing import Annotated

from fastapi import Depends

from app.deps import LeaseSession, ReadSession, WriteSession
from app.models import Project
from app.projects.access import MANAGER, REVIEWER, project_loader, project_ref
from app.projects.service import ProjectRef
from app.web.security import WebUser

WebReadProject = Annotated[Project, Depends(project_loader(WebUser, ReadSession))]
WebWriteProject = Annotated[Project, Depends(project_loader(WebUser, WriteSession))]
WebLeaseProject = Annotated[Project, Depends(project_loader(WebUser, LeaseSession))]
WebProjectRef = Annotated[ProjectRef, Depends(project_ref(WebUser))]
# For the project's managers (and instance admins) only.
WebManagedReadProject = Annotated[
    Project, Depends(project_loader(WebUser, ReadSession, least=MANAGER))
]
WebManagedProject = Annotated[
    Project, Depends(project_loader(WebUser, WriteSession, least=MANAGER))
]
WebManagedProjectRef = Annotated[ProjectRef, Depends(project_ref(WebUser, least=MANAGER))]
# For reviewers, managers and instance admins.
WebReviewReadProject = Annotated[
    Project, Depends(project_loader(WebUser, ReadSession, least=REVIEWER))
]
WebReviewProject = Annotated[
    Project, Depends(project_loader(WebUser, WriteSession, least=REVIEWER))
]
