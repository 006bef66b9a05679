//! The HTTP side: the axum router with Leptos pages and server functions,
//! static files, health checks, and the middleware every request passes.

pub mod middleware;

use crate::config::ServeConfig;
use crate::db::Db;
use crate::stores::{self, sessions::SqlSessionStore};
use app::{App, BUNDLE_NAME, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use domain::ports::Ports;
use domain::session_rules::SessionLimits;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list, handle_server_fns_with_context};
use std::sync::Arc;
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub ports: Ports,
    pub config: Arc<ServeConfig>,
    pub limits: SessionLimits,
    /// None when NHS login is not configured.
    pub nhs_login: Option<Arc<crate::nhs_login::NhsLogin>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The whole application, ready to serve. The database must be migrated.
pub async fn build(config: ServeConfig, db: Db) -> anyhow::Result<Router> {
    use secrecy::ExposeSecret;
    let key =
        stores::sessions::cookie_key(&db, config.session_key.as_ref().map(|k| k.expose_secret()))
            .await?;
    let store = SqlSessionStore { db: db.clone() };
    spawn_expired_session_sweeper(store.clone());

    let limits = SessionLimits {
        idle_seconds: i64::from(config.idle_timeout_minutes) * 60,
        absolute_seconds: i64::from(config.session_lifetime_hours) * 3600,
    };
    let session_layer = SessionManagerLayer::new(store)
        .with_name("portal_session")
        .with_secure(config.cookie_secure())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        // The store keeps a session for its whole lifetime; the idle timeout is
        // enforced by the request-context middleware, which can then say why
        // someone was signed out.
        .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
            limits.absolute_seconds,
        )))
        .with_signed(key);

    let leptos_options = LeptosOptions::builder()
        .output_name(BUNDLE_NAME)
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .env(leptos::config::Env::PROD)
        .build();
    let local_only =
        crate::config::is_loopback_url(&config.public_url) && config.addr.ip().is_loopback();
    let outbox =
        crate::outbox::Outbox::new(db.clone(), &config.email, &config.public_url, local_only)?;
    if config.email.outbox_worker {
        outbox.spawn_worker();
    }
    let ports = stores::ports(&db, &outbox, limits, &config);
    let gp_record = crate::gp_system::fhir::choose(&db, &config.gp_system)?;
    let nhs_login = crate::nhs_login::NhsLogin::from_config(&config.nhs_login, &config.public_url)?
        .map(Arc::new);
    let mut ports = ports;
    ports.gp_record = gp_record;
    ports.appointments = crate::appointments::fhir::choose(
        &db,
        &outbox,
        i64::from(config.appointment_reminder_hours),
        &config.gp_system,
    )?;
    ports.sign_in_options.nhs_login = nhs_login.is_some();
    let state = AppState {
        leptos_options: leptos_options.clone(),
        db,
        ports: ports.clone(),
        config: Arc::new(config.clone()),
        limits,
        nhs_login,
    };
    let provide_ports = move || provide_context(ports.clone());
    let routes = generate_route_list(App);
    let site_root = config.site_root.clone();
    let secure = config.cookie_secure();
    let origins = Arc::new(config.allowed_origins());

    let router = Router::new()
        .route("/api/{*fn_name}", get(server_fn_handler).post(server_fn_handler))
        .leptos_routes_with_context(&state, routes, provide_ports.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        .route(crate::nhs_login::routes::START_PATH, get(crate::nhs_login::routes::start))
        .route(crate::nhs_login::routes::CALLBACK_PATH, get(crate::nhs_login::routes::callback))
        .route(crate::nhs_login::routes::JWKS_PATH, get(crate::nhs_login::routes::jwks))
        .route(crate::gp_system::export::DOWNLOAD_PATH, get(crate::gp_system::export::download))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(crate::appointments::routes::CALENDAR_PATH, get(crate::appointments::routes::calendar))
        .nest_service("/pkg", ServeDir::new(site_root.join("pkg")).precompressed_br().precompressed_gzip())
        .nest_service("/assets", ServeDir::new(site_root.join("assets")))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(provide_ports, shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::request_context))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(origins, middleware::reject_cross_origin_writes))
        .layer(axum::middleware::from_fn_with_state(secure, middleware::security_headers))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // Path only: query strings are never logged.
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state);
    Ok(router)
}

async fn server_fn_handler(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    let ports = state.ports.clone();
    handle_server_fns_with_context(move || provide_context(ports.clone()), req).await
}

/// Alive: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the database answers too.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(err) => {
            tracing::error!(cause = %err, "readiness check: database did not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

fn spawn_expired_session_sweeper(store: SqlSessionStore) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(err) = store.delete_expired().await {
                tracing::warn!(cause = %err, "could not delete expired sessions");
            }
        }
    });
}

/// Binds, migrates and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let db = crate::db::connect(&config.database).await?;
    db.migrate().await?;
    if !config
        .site_root
        .join("pkg")
        .join(format!("{BUNDLE_NAME}.js"))
        .exists()
    {
        tracing::warn!(
            site_root = %config.site_root.display(),
            "the browser bundle is missing: pages will work without JavaScript only. Run scripts/build-site"
        );
    }
    let listener = tokio::net::TcpListener::bind(config.addr).await.map_err(|e| {
        anyhow::anyhow!("Could not listen on {}: {e}. Is another program using that port? Set PORTAL_ADDR to use another", config.addr)
    })?;
    let app = build(config.clone(), db).await?;
    tracing::info!(addr = %config.addr, public_url = %config.public_url, "serving the portal");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
