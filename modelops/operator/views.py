"""The fields of built-in objects (Jobs, Pods, Deployments) the operator reads, as typed views.

Everything else in those objects is ignored, so a newer API server adding fields changes nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class View(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Meta(View):
    name: str
    generation: int = 1
    creation_timestamp: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class Condition(View):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class Terminated(View):
    exit_code: int
    reason: str | None = None
    message: str | None = None
    finished_at: str | None = None


class Waiting(View):
    reason: str | None = None
    message: str | None = None


class ContainerState(View):
    waiting: Waiting | None = None
    terminated: Terminated | None = None


class ContainerStatus(View):
    name: str
    ready: bool = False
    restart_count: int = 0
    state: ContainerState = Field(default_factory=ContainerState)
    last_state: ContainerState = Field(default_factory=ContainerState)


class PodStatus(View):
    phase: str | None = None
    container_statuses: list[ContainerStatus] = Field(default_factory=list)


class PodView(View):
    metadata: Meta
    status: PodStatus = Field(default_factory=PodStatus)


class JobStatus(View):
    failed: int = 0
    succeeded: int = 0
    completed_indexes: str = Field(default="", description='an Indexed Job\'s succeeded indexes: "0,2-4"')
    conditions: list[Condition] = Field(default_factory=list)


class JobView(View):
    metadata: Meta
    status: JobStatus = Field(default_factory=JobStatus)

    def condition(self, type_: str) -> Condition | None:
        """The Job's condition of that type when it is True."""
        return next((c for c in self.status.conditions if c.type == type_ and c.status == "True"), None)

    def succeeded(self) -> bool:
        """`Complete`, or already `SuccessCriteriaMet`: every completion has succeeded and the Job cannot fail.

        The Job controller (Kubernetes 1.31 on) adds `SuccessCriteriaMet` first and `Complete` a sync
        later, once its pods' finalizers are gone: ~2 s on the test control plane, which every
        TrainingRun would wait once per Job.
        """
        return self.condition("Complete") is not None or self.condition("SuccessCriteriaMet") is not None

    def completed_indexes(self) -> frozenset[int]:
        """The indexes of an Indexed Job that succeeded (`status.completedIndexes`, ranges spelled out)."""
        indexes: set[int] = set()
        for part in filter(None, self.status.completed_indexes.split(",")):
            first, _, last = part.partition("-")
            indexes.update(range(int(first), int(last or first) + 1))
        return frozenset(indexes)


class DeploymentStatus(View):
    observed_generation: int = 0
    replicas: int = 0
    ready_replicas: int = 0
    updated_replicas: int = 0
    available_replicas: int = 0


class DeploymentView(View):
    metadata: Meta
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)

    @property
    def rolled_out(self) -> bool:
        """Every replica runs the current template and is available (as `kubectl rollout status` judges)."""
        status = self.status
        return (
            status.observed_generation >= self.metadata.generation
            and status.replicas > 0
            and status.updated_replicas == status.replicas
            and status.available_replicas >= status.replicas
        )
