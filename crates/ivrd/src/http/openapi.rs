//! The OpenAPI 3.1 document of the HTTP surface, served at `GET /openapi.json` and kept in the
//! repository as `docs/openapi.json` (a test fails when the two differ). It is built from the
//! handlers themselves: each route is registered through `utoipa_axum`'s `routes!` from its
//! `#[utoipa::path]` annotation and the types it answers with, so the router and the document
//! cannot disagree on a path, a method or a body.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// The document's head.
pub(super) fn base() -> OpenApi {
    let info = InfoBuilder::new()
        .title("ivrd")
        .description(Some(
            "The ivrd daemon's HTTP API. Admin routes take `Authorization: Bearer <token>` \
             with the token `[http] admin_token_env` names, and answer 404 when none is set.",
        ))
        .version(env!("CARGO_PKG_VERSION"))
        .build();
    OpenApiBuilder::new().info(info).build()
}

/// The document, with its security scheme, as the JSON served.
pub(super) fn finish(mut api: OpenApi) -> String {
    let admin = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("The admin token"))
        .build();
    let merchant = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .description(Some("A merchant's token (`[[merchants]]`)"))
        .build();
    let agent = ApiKeyValue::with_description(
        super::tickets::AGENT_COOKIE,
        "The agent's key, set as a cookie by their page's link",
    );
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme("admin", SecurityScheme::Http(admin));
    components.add_security_scheme("merchant", SecurityScheme::Http(merchant));
    components.add_security_scheme("agent", SecurityScheme::ApiKey(ApiKey::Cookie(agent)));
    let mut document = serde_json::to_value(&api).unwrap_or_default();
    admin_disabled(&mut document);
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// Every admin operation answers 404 while no admin token is configured (`Admin::refusal`):
/// said once here rather than in each annotation. An operation that has a 404 of its own (an
/// unknown call) keeps its description.
fn admin_disabled(document: &mut serde_json::Value) {
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for operation in paths.values_mut().filter_map(|p| p.as_object_mut()) {
        for op in operation.values_mut() {
            let admin = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("admin").is_some()));
            if let (true, Some(responses)) = (admin, op["responses"].as_object_mut()) {
                responses.entry("404").or_insert_with(
                    || serde_json::json!({"description": "No admin token is configured"}),
                );
            }
        }
    }
}
