"""`DomainMemoryFactory`: domain schemas from plain config, and ready-made presets for
coding, research, sales and general assistants.

>>> schema = DomainMemoryFactory.get_preset("coding")
>>> schema.allows("testing"), schema.allows("credentials")
(True, False)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from langgraph_alma.domains.schema import DomainSchema, EntityType, RelationshipType
from langgraph_alma.errors import DomainSchemaError

__all__ = ["DomainMemoryFactory"]

WORKFLOW_CATEGORY = "workflow"  # = workflow.core.WORKFLOW_TASK_TYPE (no import: a lower layer)


def _entities(*specs: tuple[str, str, str]) -> list[EntityType]:
    """Entity types from (name, description, space-separated attributes)."""
    return [EntityType(name=n, description=d, attributes=a.split()) for n, d, a in specs]


def _relationships(*specs: tuple[str, str, str, str]) -> list[RelationshipType]:
    return [
        RelationshipType(name=n, source_type=s, target_type=t, description=d)
        for n, s, t, d in specs
    ]


class DomainMemoryFactory:
    """Builds `DomainSchema`s. Every method is a class method; no instance is needed.

    >>> ops = DomainMemoryFactory.create_schema("ops", {"learning_categories": ["deploys"]})
    >>> ops.scope_for("ana").can_learn
    ['deploys']
    """

    @classmethod
    def create_schema(cls, name: str, config: Mapping[str, Any]) -> DomainSchema:
        """A schema named `name` from `config` (the `DomainSchema` fields, as plain data).

        Raises `DomainSchemaError` on an unknown key or any invalid definition.
        """
        allowed = set(DomainSchema.model_fields)
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise DomainSchemaError(
                name,
                f"unknown config keys {unknown}; expected some of {sorted(allowed - {'name'})}",
            )
        if "name" in config and config["name"] != name:
            raise DomainSchemaError(name, f"config names another schema, {config['name']!r}")
        try:
            return DomainSchema.model_validate({**config, "name": name})
        except ValidationError as exc:
            raise DomainSchemaError(name, _describe(exc)) from exc

    @classmethod
    def create_alma(
        cls, schema: DomainSchema | str, project_id: str = "default", **kwargs: Any
    ) -> Any:
        """An `Alma` whose agents learn within `schema` (a schema or a preset name); the
        other arguments are `Alma.connect`'s. A convenience kept for ALMA's API: the
        facade sits above this layer, hence the import inside.

        >>> alma = DomainMemoryFactory.create_alma("coding", "shop")   # doctest: +SKIP
        """
        from langgraph_alma.alma import Alma

        domain = cls.get_preset(schema) if isinstance(schema, str) else schema
        return Alma.connect(project_id=project_id, domain=domain, **kwargs)

    @classmethod
    def list_presets(cls) -> list[str]:
        """The names `get_preset` accepts."""
        return sorted(_PRESETS)

    @classmethod
    def get_preset(cls, name: str) -> DomainSchema:
        """The preset schema called `name` (see `list_presets`); a fresh copy each call."""
        try:
            build = _PRESETS[name]
        except KeyError:
            raise DomainSchemaError(
                name, f"no such preset; available presets are {cls.list_presets()}"
            ) from None
        return build()

    @classmethod
    def get_coding_schema(cls) -> DomainSchema:
        """Software work: repositories, code, tests, bugs and dependencies."""
        return _preset(
            name="coding",
            description="Writing, testing, debugging and maintaining software.",
            entity_types=_entities(
                ("repository", "A version-controlled codebase.", "url language default_branch"),
                ("module", "A file or package of source code.", "path language summary"),
                ("function", "A function, method or class.", "signature path line summary"),
                ("test", "An automated test or test suite.", "path framework status flaky"),
                ("bug", "A defect: what happens, what should.", "symptom cause severity status"),
                ("dependency", "A third-party package or service.", "version ecosystem license"),
                ("command", "A build, test or deploy command.", "cwd purpose"),
                ("feature", "A capability to build or change.", "summary status acceptance"),
                ("file", "A file in the working tree.", "path language"),
                ("commit", "A recorded change.", "sha message author"),
            ),
            relationship_types=_relationships(
                ("contains", "repository", "module", "The repository holds the module."),
                ("contains", "module", "function", "The module defines the function."),
                ("tests", "test", "function", "The test exercises the function."),
                ("tests", "test", "module", "The test exercises the module."),
                ("fixes", "function", "bug", "A change to the function fixed the bug."),
                ("affects", "bug", "function", "The bug shows up in the function."),
                ("calls", "function", "function", "The caller invokes the callee."),
                ("imports", "module", "module", "The module imports the other."),
                ("depends_on", "repository", "dependency", "The repository needs the dependency."),
                ("depends_on", "module", "dependency", "The module imports the dependency."),
                ("runs", "repository", "command", "The command builds or checks the repository."),
                ("implements", "function", "feature", "The function delivers the feature."),
                ("tests", "test", "feature", "The test checks the feature."),
                ("affects", "bug", "feature", "The bug breaks the feature."),
                ("changes", "commit", "file", "The commit modifies the file."),
                ("fixes", "commit", "bug", "The commit fixed the bug."),
            ),
            learning_categories=(
                "testing_strategies selector_patterns api_design_patterns error_handling "
                "performance_optimization debugging_techniques refactoring_strategies "
                "security_practices "
                "testing debugging refactoring code_review "
                "architecture performance dependencies tooling conventions"
            ).split(),
            excluded_categories="credentials secrets personal_data".split(),
            min_occurrences_for_heuristic=3,
            confidence_decay_days=45,
        )

    @classmethod
    def get_research_schema(cls) -> DomainSchema:
        """Literature work: papers, their authors and claims, datasets and methods."""
        return _preset(
            name="research",
            description="Finding, reading and synthesising research literature.",
            entity_types=_entities(
                ("paper", "A published or preprint work.", "title year venue doi url"),
                ("author", "A researcher.", "affiliation orcid"),
                ("claim", "A finding a paper asserts.", "statement evidence strength"),
                ("dataset", "A collection of data used or released.", "size license url"),
                ("method", "A technique, model or protocol.", "summary family"),
                ("topic", "A research area or question.", "summary"),
                ("hypothesis", "A claim to be tested.", "statement status confidence"),
                ("experiment", "A test of a hypothesis.", "design status result"),
                ("finding", "What an experiment or a paper showed.", "statement strength"),
            ),
            relationship_types=_relationships(
                ("authored", "author", "paper", "The author wrote the paper."),
                ("cites", "paper", "paper", "The paper cites the other."),
                ("makes", "paper", "claim", "The paper asserts the claim."),
                ("supports", "paper", "claim", "The paper's evidence supports the claim."),
                ("contradicts", "paper", "claim", "The paper's evidence contradicts the claim."),
                ("uses", "paper", "dataset", "The paper evaluates on the dataset."),
                ("uses", "paper", "method", "The paper applies the method."),
                ("proposes", "paper", "method", "The paper introduces the method."),
                ("about", "paper", "topic", "The paper addresses the topic."),
                ("extends", "method", "method", "The method builds on the other."),
                ("tests", "experiment", "hypothesis", "The experiment tests the hypothesis."),
                ("produces", "experiment", "finding", "The experiment produced the finding."),
                ("supports", "finding", "hypothesis", "The finding supports the hypothesis."),
                ("uses", "experiment", "dataset", "The experiment runs on the dataset."),
            ),
            learning_categories=(
                "literature_review_patterns methodology_selection data_analysis_strategies "
                "hypothesis_formation experiment_design citation_patterns "
                "search_strategy source_quality synthesis citation methodology summarization"
            ).split(),
            excluded_categories="personal_data unpublished_reviews".split(),
            min_occurrences_for_heuristic=3,
            confidence_decay_days=90,
        )

    @classmethod
    def get_sales_schema(cls) -> DomainSchema:
        """Selling: leads, accounts and their contacts, deals, objections and products."""
        return _preset(
            name="sales",
            description="Prospecting, qualifying and closing deals.",
            entity_types=_entities(
                ("lead", "A prospect not yet qualified.", "source score status"),
                ("account", "A customer or prospect organisation.", "industry size region"),
                ("contact", "A person at an account.", "role seniority channel"),
                ("deal", "An opportunity in the pipeline.", "stage amount currency close_date"),
                ("objection", "A reason a buyer gives not to buy.", "category response resolved"),
                ("product", "Something on offer.", "sku price tier"),
                ("competitor", "Another vendor in the deal.", "strengths weaknesses"),
                ("conversation", "A call, meeting or thread with a buyer.", "channel date summary"),
            ),
            relationship_types=_relationships(
                ("works_at", "contact", "account", "The contact is employed by the account."),
                ("converted_to", "lead", "contact", "The lead became a qualified contact."),
                ("belongs_to", "deal", "account", "The deal is with the account."),
                ("champions", "contact", "deal", "The contact pushes the deal internally."),
                ("includes", "deal", "product", "The deal sells the product."),
                ("raised", "contact", "objection", "The contact raised the objection."),
                ("blocks", "objection", "deal", "The objection holds the deal back."),
                ("competes_in", "competitor", "deal", "The competitor is in the deal."),
                ("with_lead", "conversation", "lead", "The conversation was with the lead."),
                ("with_contact", "conversation", "contact", "The conversation was with them."),
                ("surfaced", "conversation", "objection", "The objection came up in it."),
                ("advanced", "conversation", "deal", "The conversation moved the deal."),
            ),
            learning_categories=(
                "objection_handling closing_techniques qualification_patterns outreach_timing "
                "pricing_negotiation relationship_building "
                "qualification messaging negotiation follow_up pricing"
            ).split(),
            excluded_categories="payment_details personal_data".split(),
            min_occurrences_for_heuristic=2,
            confidence_decay_days=21,
        )

    @classmethod
    def get_general_schema(cls) -> DomainSchema:
        """A general assistant: people, organisations, topics and facts about them."""
        return _preset(
            name="general",
            description="A general-purpose assistant's knowledge of its world.",
            entity_types=_entities(
                ("person", "Someone the assistant knows of.", ""),
                ("organization", "A company, team or institution.", ""),
                ("topic", "A subject of conversation or work.", ""),
                ("fact", "A statement the assistant has learned.", "statement source confidence"),
            ),
            relationship_types=_relationships(
                ("member_of", "person", "organization", "The person belongs to it."),
                ("knows", "person", "person", "The two people know each other."),
                ("interested_in", "person", "topic", "The person cares about the topic."),
                ("works_on", "organization", "topic", "The organisation works on the topic."),
                ("about", "fact", "person", "The fact concerns the person."),
                ("about", "fact", "organization", "The fact concerns the organisation."),
                ("about", "fact", "topic", "The fact concerns the topic."),
                ("related_to", "topic", "topic", "The topics are connected."),
            ),
            learning_categories=(
                "user_preferences domain_knowledge communication task_patterns"
            ).split(),
            excluded_categories="credentials payment_details".split(),
        )


PRESET_CREATED_AT = datetime(2026, 1, 1, tzinfo=UTC)
"""When the presets were defined: a preset is the same schema (id included) every call."""


def _preset(**fields: Any) -> DomainSchema:
    """A preset: id `preset:<name>`; every preset allows the workflow category, so
    `learn_from_workflow`'s default task type is learnable under any of them."""
    categories = [*fields.pop("learning_categories"), WORKFLOW_CATEGORY]
    return DomainSchema(
        id=f"preset:{fields['name']}",
        created_at=PRESET_CREATED_AT,
        metadata={"preset": True},
        learning_categories=categories,
        **fields,
    )


_PRESETS: dict[str, Callable[[], DomainSchema]] = {
    "coding": DomainMemoryFactory.get_coding_schema,
    "research": DomainMemoryFactory.get_research_schema,
    "sales": DomainMemoryFactory.get_sales_schema,
    "general": DomainMemoryFactory.get_general_schema,
}


def _describe(exc: ValidationError) -> str:
    """pydantic's errors as one line: `where: what` for each."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)
