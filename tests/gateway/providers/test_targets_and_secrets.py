"""Provider manifests (parsed into their typed models) -> upstream targets, and tfy-secret://
resolution (never leaking values)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tfy_gateway.gateway.providers import (
    AiohttpTransport,
    ProviderConfigError,
    SecretError,
    SecretResolver,
    UpstreamResponse,
    UpstreamTarget,
    call,
    target_for,
)
from tfy_gateway.gateway.providers.secrets import env_var_name
from tfy_gateway.manifests import parse_manifest
from tfy_gateway.manifests.providers import ProviderAccount

SECRET_VALUE = "sk-live-very-secret-value-1234"
REF = "tfy-secret://local:openai-group:API_KEY"


INTEGRATION_TYPES = {"aws-bedrock": "bedrock", "google-gemini": "gemini"}


def account(kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": f"{kind}-main", "type": f"provider-account/{kind}", **fields}


def model(name: str = "m1", **fields: Any) -> dict[str, Any]:
    return {"name": name, "model_id": "upstream-id", "model_types": ["chat"], **fields}


def resolver(**env: str) -> SecretResolver:
    return SecretResolver({"openai-group": {"API_KEY": SECRET_VALUE}}, environ=env)


def target(provider_account: dict[str, Any], integration: dict[str, Any]) -> UpstreamTarget:
    """`integration` as the account's only one, both parsed as the gateway parses stored manifests."""
    kind = provider_account["type"].removeprefix("provider-account/")
    integration = {"type": f"integration/model/{INTEGRATION_TYPES.get(kind, kind)}", **integration}
    parsed = parse_manifest({**provider_account, "integrations": [integration]})
    assert isinstance(parsed, ProviderAccount) and parsed.integrations
    return target_for(parsed, parsed.integrations[0], resolver())


@pytest.mark.parametrize(
    ("kind", "base_url", "wire", "header"),
    [
        ("openai", "https://api.openai.com/v1", "openai", "authorization"),
        ("anthropic", "https://api.anthropic.com/v1", "anthropic", "x-api-key"),
        ("groq", "https://api.groq.com/openai/v1", "openai", "authorization"),
        ("together-ai", "https://api.together.xyz/v1", "openai", "authorization"),
        ("mistral-ai", "https://api.mistral.ai/v1", "openai", "authorization"),
        ("openrouter", "https://openrouter.ai/api/v1", "openai", "authorization"),
    ],
)
def test_defaults_per_provider(kind: str, base_url: str, wire: str, header: str) -> None:
    built = target(account(kind, auth_data={"type": "api-key", "api_key": REF}), model())
    assert (built.base_url, built.wire_format, built.model_id) == (base_url, wire, "upstream-id")
    assert built.name == f"{kind}-main/m1" and built.provider == kind
    expected = f"Bearer {SECRET_VALUE}" if header == "authorization" else SECRET_VALUE
    assert dict(built.auth_headers) == {header: expected}
    assert SECRET_VALUE not in repr(built)


def test_account_base_url_overrides_the_default() -> None:
    built = target(account("openai", base_url="http://127.0.0.1:9000/v1/"), model())
    assert built.base_url == "http://127.0.0.1:9000/v1" and dict(built.auth_headers) == {}


def test_azure_endpoint_deployment_and_version() -> None:
    azure = account(
        "azure-openai", azure_endpoint="https://res.openai.azure.com", auth_data={"type": "api-key", "api_key": REF}
    )
    built = target(azure, model("gpt-4o", model_id="gpt-4o-deployment", api_version="2024-10-21"))
    assert (built.base_url, built.model_id, built.api_version) == (
        "https://res.openai.azure.com",
        "gpt-4o-deployment",
        "2024-10-21",
    )
    assert dict(built.auth_headers) == {"api-key": SECRET_VALUE}
    with pytest.raises(ProviderConfigError, match="api_version is required for Azure OpenAI"):
        target(azure, model("gpt-4o", api_version=""))
    with pytest.raises(ProviderConfigError, match="azure_endpoint is required"):
        target({**azure, "azure_endpoint": ""}, model(api_version="v"))


def test_self_hosted_url_model_name_auth_and_headers() -> None:
    integration = {
        "name": "nemo",
        "hosted_model_name": "nvidia/nemo",
        "url": "http://vllm:8000/v1",
        "model_server": "vllm-openai",
        "model_types": ["chat"],
        "auth_data": {"type": "basic-auth", "username": "u", "password": REF},
        "headers": {"x-tenant": "acme", "x-token": REF},
    }
    built = target(account("self-hosted-model"), integration)
    assert (built.base_url, built.model_id, built.wire_format) == ("http://vllm:8000/v1", "nvidia/nemo", "openai")
    expected = "Basic " + base64.b64encode(f"u:{SECRET_VALUE}".encode()).decode()
    assert dict(built.auth_headers) == {"authorization": expected}
    assert dict(built.extra_headers) == {"x-tenant": "acme", "x-token": SECRET_VALUE}
    bearer = {**integration, "auth_data": {"type": "bearer-auth", "bearer_token": "literal-token"}}
    assert dict(target(account("self-hosted-model"), bearer).auth_headers) == {"authorization": "Bearer literal-token"}


def test_unsupported_provider_and_auth_types() -> None:
    with pytest.raises(
        ProviderConfigError,
        match=r"'aws-sagemaker' cannot be called by the local gateway \(SageMaker.*supported: .*anthropic",
    ):
        target(account("aws-sagemaker"), model())
    certificate = {
        "type": "certificate",
        "tenant_id": "t",
        "client_id": "c",
        "certificate": "x",
        "certificate_thumbprint": "y",
    }
    azure = account("azure-openai", azure_endpoint="https://res.openai.azure.com", auth_data=certificate)
    with pytest.raises(ProviderConfigError, match=r"auth_data\.type 'certificate' is not supported"):
        target(azure, model(api_version="v"))
    with pytest.raises(ProviderConfigError, match="integration model_id is required"):
        target(account("openai"), model(model_id=""))


def test_loosely_modelled_types_are_checked_when_the_target_is_built() -> None:
    """openrouter & co. keep their fields as unchecked extras: a wrong value is a clear error here."""
    with pytest.raises(ProviderConfigError, match="openrouter-main/m1: auth_data must be a mapping"):
        target(account("openrouter", auth_data="sk-plain"), model())
    with pytest.raises(ProviderConfigError, match="integration model_id is required"):
        target(account("openrouter"), {"name": "m1", "model_types": ["chat"]})
    with pytest.raises(ProviderConfigError, match="base_url is required"):
        target(account("openrouter", base_url=42), model())
    headers = target(account("openrouter", headers={"x-org": REF}), model()).extra_headers
    assert dict(headers) == {"x-org": SECRET_VALUE}


def test_env_var_wins_over_the_secrets_file() -> None:
    assert env_var_name("openai-group", "API_KEY") == "TFY_SECRET_OPENAI_GROUP_API_KEY"
    from_env = resolver(TFY_SECRET_OPENAI_GROUP_API_KEY="sk-from-env").resolve(REF)
    assert from_env == "sk-from-env"
    assert resolver().resolve(REF) == SECRET_VALUE
    assert resolver().resolve("plain-literal") == "plain-literal"


def test_missing_secret_names_the_reference_but_no_value(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps({"openai-group": {"API_KEY": SECRET_VALUE}}))
    secrets = SecretResolver.from_data_dir(tmp_path, environ={"TFY_SECRET_OTHER_X": "sk-env-secret-777"})
    assert secrets.resolve(REF) == SECRET_VALUE
    missing = "tfy-secret://local:anthropic:API_KEY"
    with pytest.raises(SecretError) as error:
        secrets.resolve(missing)
    message = str(error.value)
    assert missing in message and "TFY_SECRET_ANTHROPIC_API_KEY" in message
    assert str(tmp_path / "secrets.json") in message
    assert SECRET_VALUE not in message and "sk-env-secret-777" not in message
    with pytest.raises(SecretError, match="expected tfy-secret://<tenant>:<group>:<key>"):
        secrets.resolve("tfy-secret://only-two:parts")


def test_secrets_yaml_and_broken_files(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").write_text(f"anthropic:\n  API_KEY: {SECRET_VALUE}\n")
    assert (
        SecretResolver.from_data_dir(tmp_path, environ={}).resolve("tfy-secret://t:anthropic:API_KEY") == SECRET_VALUE
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "secrets.json").write_text('{"g": {"k": "' + SECRET_VALUE + '"')
    with pytest.raises(SecretError) as error:
        SecretResolver.from_data_dir(broken, environ={})
    assert "not valid JSON" in str(error.value) and SECRET_VALUE not in str(error.value)


async def test_resolved_credentials_are_forwarded(transport: AiohttpTransport, fake_url: str) -> None:
    """A manifest with a secret reference, pointed at a fake provider that requires that key."""
    provider_account = account(
        "openai", base_url=f"{fake_url}/knobs/api_key={SECRET_VALUE}/v1", auth_data={"type": "api-key", "api_key": REF}
    )
    built = target(provider_account, model())
    result = await call(transport, built, "chat", {"messages": [{"role": "user", "content": "hi"}]})
    assert isinstance(result, UpstreamResponse) and result.status == 200
    anthropic_account = account(
        "anthropic",
        base_url=f"{fake_url}/knobs/api_key={SECRET_VALUE}/v1",
        auth_data={"type": "api-key", "api_key": REF},
    )
    claude = target(anthropic_account, model())
    reply = await call(transport, claude, "chat", {"messages": [{"role": "user", "content": "hi"}]})
    assert isinstance(reply, UpstreamResponse) and reply.status == 200


# --- AWS Bedrock -------------------------------------------------------------------------------


def _bedrock(auth: dict[str, object] | None, *, region: str | None = None, base_url: str | None = None) -> object:
    from tfy_gateway.manifests.providers import AwsBedrockAccount

    integration: dict[str, object] = {
        "type": "integration/model/bedrock",
        "name": "nova",
        "model_id": "amazon.nova-pro-v1:0",
        "model_types": ["chat"],
    }
    if region:
        integration["region"] = region
    manifest: dict[str, object] = {
        "name": "bedrock",
        "type": "provider-account/aws-bedrock",
        "region": "us-east-1",
        "integrations": [integration],
    }
    if auth is not None:
        manifest["auth_data"] = auth
    if base_url:
        manifest["base_url"] = base_url
    return AwsBedrockAccount.model_validate(manifest)


def test_bedrock_api_key_is_a_bearer_token_and_the_region_picks_the_host() -> None:
    from tfy_gateway.gateway.providers import SecretResolver, target_for

    account: Any = _bedrock({"type": "api-key", "api_key": "tfy-secret://t:aws:KEY"}, region="eu-central-1")
    target = target_for(account, account.integrations[0], SecretResolver({"aws": {"KEY": "bedrock-key-1"}}))
    assert (target.wire_format, target.base_url, target.model_id) == (
        "bedrock",
        "https://bedrock-runtime.eu-central-1.amazonaws.com",
        "amazon.nova-pro-v1:0",
    )
    assert target.auth_headers == {"authorization": "Bearer bedrock-key-1"} and target.signer is None
    custom: Any = _bedrock(None, base_url="https://vpce.example/")
    assert target_for(custom, custom.integrations[0], SecretResolver()).base_url == "https://vpce.example"


def test_bedrock_access_keys_sign_and_assumed_roles_are_refused() -> None:
    from tfy_gateway.gateway.providers import ProviderConfigError, SecretResolver, target_for

    keys: Any = _bedrock({"type": "access-key-based", "access_key_id": "AKID", "secret_access_key": "s3cr3t-key"})
    target = target_for(keys, keys.integrations[0], SecretResolver())
    assert target.auth_headers == {} and target.signer is not None and "s3cr3t-key" in target.signer.secrets
    role: Any = _bedrock({"type": "assumed-role-based", "assumed_role_arn": "arn:aws:iam::1:role/x"})
    with pytest.raises(ProviderConfigError, match=r"assumed-role-based.*STS.*access-key-based"):
        target_for(role, role.integrations[0], SecretResolver())


def test_bedrock_access_keys_without_botocore_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from tfy_gateway.gateway.providers import ProviderConfigError, SecretResolver, target_for

    real = importlib.import_module

    def without_botocore(name: str, package: str | None = None) -> Any:
        if name.startswith("botocore"):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_botocore)
    keys: Any = _bedrock({"type": "access-key-based", "access_key_id": "AKID", "secret_access_key": "s3cr3t-key"})
    with pytest.raises(ProviderConfigError, match=r"pip install 'tfy-gateway\[bedrock\]'.*api-key"):
        target_for(keys, keys.integrations[0], SecretResolver())
    key: Any = _bedrock({"type": "api-key", "api_key": "k"})
    assert target_for(key, key.integrations[0], SecretResolver()).auth_headers  # bearer needs no botocore
