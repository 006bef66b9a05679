//! The HTTP plumbing both `fhir` adapters share (the record in
//! [`super::fhir`], the appointment book in `crate::appointments::fhir`):
//! one reqwest client with the configured base URL, Authorization header
//! and timeouts; JSON reads retried once on a refused connection; searches
//! with every same-origin `next` page followed; writes with `If-Match`;
//! and the patient found by NHS number.
//!
//! Errors name the request ("Slot search"), never the URL: URLs carry NHS
//! numbers and resource ids.

use super::fhir_import::NHS_NUMBER_SYSTEM;
use crate::config::{GpSystemConfig, origin_of};
use crate::db::Db;
use crate::stores::db_err;
use domain::access::PatientRef;
use domain::ports::PortError;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sqlx::Row;
use std::time::Duration;

/// Pages followed per search before the server is judged to be looping.
const MAX_PAGES: usize = 2_000;

/// The most one answer may hold: a page of a search, never a whole
/// record, so a broken server cannot make the portal hold gigabytes.
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

pub fn not_answering(cause: impl std::fmt::Display) -> PortError {
    PortError::not_answering(format!("FHIR server: {cause}"))
}

#[derive(Clone)]
pub struct FhirClient {
    http: reqwest::Client,
    /// Without a trailing slash.
    pub base: String,
    pub origin: String,
    authorization: Option<SecretString>,
    /// The bound on one whole operation (a record read, a booking).
    pub total: Duration,
    pub page_size: u32,
}

impl std::fmt::Debug for FhirClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirClient")
            .field("base", &self.base)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "[set]"),
            )
            .field("total", &self.total)
            .field("page_size", &self.page_size)
            .finish()
    }
}

/// A resource read with the version it was read at.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub resource: Value,
    /// The `ETag` header, else `W/"<meta.versionId>"`: what `If-Match`
    /// sends back.
    pub etag: Option<String>,
}

/// What a write answered.
#[derive(Debug)]
pub enum Written {
    Done(Versioned),
    /// 412 (or 409): the resource changed since it was read.
    Stale,
}

/// A search's matches and the resources `_include` brought with them.
#[derive(Debug, Default)]
pub struct Found {
    pub matches: Vec<Value>,
    pub included: Vec<Value>,
}

fn etag_of(headers: &reqwest::header::HeaderMap, resource: &Value) -> Option<String> {
    headers
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            resource
                .pointer("/meta/versionId")
                .and_then(Value::as_str)
                .map(|v| format!("W/\"{v}\""))
        })
}

impl FhirClient {
    pub fn new(config: &GpSystemConfig) -> anyhow::Result<Self> {
        let base = config
            .fhir_base_url
            .as_deref()
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "PORTAL_GP_SYSTEM=fhir needs PORTAL_FHIR_BASE_URL, the address of the practice's FHIR R4 server (for example https://gp.example.nhs.uk/fhir)"
                )
            })?;
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            anyhow::bail!(
                "PORTAL_FHIR_BASE_URL must start with https:// (or http:// on this machine); it is {base}"
            );
        }
        if base.starts_with("http://") && !crate::config::is_loopback_url(&base) {
            anyhow::bail!(
                "PORTAL_FHIR_BASE_URL uses plain http to another machine; records must travel encrypted. Use https://"
            );
        }
        if config.fhir_timeout_seconds == 0 || config.fhir_connect_timeout_seconds == 0 {
            anyhow::bail!("the FHIR timeouts must be at least one second");
        }
        let total = Duration::from_secs(config.fhir_timeout_seconds);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(config.fhir_connect_timeout_seconds))
            .timeout(total)
            // Paging links are followed by hand, after an origin check.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            origin: origin_of(&base),
            base,
            authorization: config.fhir_authorization.clone(),
            total,
            page_size: config.fhir_page_size.clamp(1, 1000),
        })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/fhir+json");
        if let Some(auth) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, auth.expose_secret());
        }
        request
    }

    async fn body_json(
        mut response: reqwest::Response,
        what: &str,
    ) -> Result<Option<Value>, PortError> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| not_answering(format!("{what}: {}", e.without_url())))?
        {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_RESPONSE_BYTES {
                return Err(not_answering(format!(
                    "{what} answered more than {} MB in one page",
                    MAX_RESPONSE_BYTES / (1024 * 1024)
                )));
            }
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| not_answering(format!("{what} answered with something not JSON: {e}")))
    }

    /// One GET with its ETag, retried once when the connection could not
    /// be made. None on 404 or 410.
    pub async fn get_versioned(
        &self,
        url: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Option<Versioned>, PortError> {
        let mut retried = false;
        loop {
            let response = match self
                .request(reqwest::Method::GET, url)
                .query(query)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) if e.is_connect() && !retried => {
                    retried = true;
                    continue;
                }
                Err(e) => return Err(not_answering(format!("{what}: {}", e.without_url()))),
            };
            let status = response.status();
            if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(not_answering(format!("{what} answered {status}")));
            }
            let headers = response.headers().clone();
            let resource = Self::body_json(response, what)
                .await?
                .ok_or_else(|| not_answering(format!("{what} answered nothing")))?;
            let etag = etag_of(&headers, &resource);
            return Ok(Some(Versioned { resource, etag }));
        }
    }

    /// One GET of JSON; None on 404 or 410.
    pub async fn get_json(
        &self,
        url: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Option<Value>, PortError> {
        Ok(self
            .get_versioned(url, query, what)
            .await?
            .map(|v| v.resource))
    }

    /// `GET <base>/<kind>/<id>` with its ETag.
    pub async fn read(&self, kind: &str, id: &str) -> Result<Option<Versioned>, PortError> {
        self.get_versioned(
            &format!("{}/{kind}/{id}", self.base),
            &[],
            &format!("{kind} read"),
        )
        .await
    }

    /// `PUT <base>/<kind>/<id>`, with `If-Match` when a version is given.
    /// Not retried: a write must not be sent twice.
    pub async fn update(
        &self,
        kind: &str,
        id: &str,
        resource: &Value,
        if_match: Option<&str>,
    ) -> Result<Written, PortError> {
        let what = format!("{kind} update");
        let mut request = self
            .request(reqwest::Method::PUT, &format!("{}/{kind}/{id}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/fhir+json")
            .header("Prefer", "return=representation")
            .body(serde_json::to_vec(resource).map_err(PortError::new)?);
        if let Some(version) = if_match {
            request = request.header(reqwest::header::IF_MATCH, version);
        }
        self.write(request, &what).await
    }

    /// `POST <base>/<kind>`: the created resource, with its server id.
    pub async fn create(&self, kind: &str, resource: &Value) -> Result<Versioned, PortError> {
        let what = format!("{kind} create");
        let request = self
            .request(reqwest::Method::POST, &format!("{}/{kind}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/fhir+json")
            .header("Prefer", "return=representation")
            .body(serde_json::to_vec(resource).map_err(PortError::new)?);
        match self.write(request, &what).await? {
            Written::Done(created) => Ok(created),
            Written::Stale => Err(not_answering(format!("{what} answered a conflict"))),
        }
    }

    async fn write(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Written, PortError> {
        let response = request
            .send()
            .await
            .map_err(|e| not_answering(format!("{what}: {}", e.without_url())))?;
        let status = response.status();
        if status == reqwest::StatusCode::PRECONDITION_FAILED
            || status == reqwest::StatusCode::CONFLICT
        {
            return Ok(Written::Stale);
        }
        if !status.is_success() {
            return Err(not_answering(format!("{what} answered {status}")));
        }
        let headers = response.headers().clone();
        let location = headers
            .get(reqwest::header::LOCATION)
            .or_else(|| headers.get("content-location"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut resource = Self::body_json(response, what)
            .await?
            .unwrap_or(Value::Null);
        if resource.get("id").is_none() {
            // A server that ignores `Prefer: return=representation` still
            // says where the resource is: `.../<kind>/<id>/_history/<v>`.
            let id = location.as_deref().and_then(|l| {
                let path = l.split("/_history/").next().unwrap_or(l);
                path.rsplit('/').next().map(str::to_owned)
            });
            if let (Some(id), Some(map)) = (id, resource.as_object_mut()) {
                map.insert("id".into(), Value::String(id));
            } else if let Some(id) = location.as_deref().and_then(|l| {
                let path = l.split("/_history/").next().unwrap_or(l);
                path.rsplit('/').next()
            }) {
                resource = serde_json::json!({ "id": id });
            }
        }
        let etag = etag_of(&headers, &resource);
        Ok(Written::Done(Versioned { resource, etag }))
    }

    /// Every resource of a search and what `_include` brought, following
    /// the "next" links (same origin only: the Authorization header never
    /// goes elsewhere).
    pub async fn search_with_included(
        &self,
        kind: &str,
        query: &[(&str, &str)],
    ) -> Result<Found, PortError> {
        let count = self.page_size.to_string();
        let mut query = query.to_vec();
        query.push(("_count", &count));
        let what = format!("{kind} search");
        let mut page = self
            .get_json(&format!("{}/{kind}", self.base), &query, &what)
            .await?
            .ok_or_else(|| not_answering(format!("{what} answered 404")))?;
        let mut found = Found::default();
        for pages in 1.. {
            if page.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
                return Err(not_answering(format!(
                    "{what} did not answer with a Bundle"
                )));
            }
            for entry in page
                .get("entry")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(resource) = entry.get("resource") else {
                    continue;
                };
                let included = entry
                    .pointer("/search/mode")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m != "match");
                if !included && resource.get("resourceType").and_then(Value::as_str) == Some(kind) {
                    found.matches.push(resource.clone());
                } else if resource.get("resourceType").and_then(Value::as_str)
                    != Some("OperationOutcome")
                {
                    found.included.push(resource.clone());
                }
            }
            let next = page
                .get("link")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))
                .and_then(|l| l.get("url").and_then(Value::as_str))
                .map(str::to_owned);
            let Some(next) = next else { break };
            if origin_of(&next) != self.origin {
                return Err(not_answering(format!(
                    "{what}'s next page is on another server; not followed"
                )));
            }
            if pages >= MAX_PAGES {
                return Err(not_answering(format!(
                    "{what} has more than {MAX_PAGES} pages"
                )));
            }
            page = self
                .get_json(&next, &[], &what)
                .await?
                .ok_or_else(|| not_answering(format!("{what}'s next page answered 404")))?;
        }
        Ok(found)
    }

    /// Every resource of a search, following the "next" links.
    pub async fn search(
        &self,
        kind: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, PortError> {
        Ok(self.search_with_included(kind, query).await?.matches)
    }

    /// The patient's FHIR Patient resource, or None when the server has no
    /// record of them: by NHS number, else by the key an earlier
    /// `import-fhir` kept for them (`Patient/<id>`).
    pub async fn find_patient(
        &self,
        db: &Db,
        patient: PatientRef,
    ) -> Result<Option<Value>, PortError> {
        let nhs_number: Option<String> =
            sqlx::query("select nhs_number from patients where id = $1 and practice_id = $2")
                .bind(patient.id.0)
                .bind(patient.practice.0)
                .fetch_optional(&db.pool)
                .await
                .map_err(db_err)?
                .map(|row| row.try_get::<Option<String>, _>("nhs_number"))
                .transpose()
                .map_err(db_err)?
                .flatten();
        if let Some(nhs) = nhs_number {
            let identifier = format!("{NHS_NUMBER_SYSTEM}|{nhs}");
            let found = self
                .search("Patient", &[("identifier", identifier.as_str())])
                .await?;
            if let Some(p) = found.into_iter().next() {
                return Ok(Some(p));
            }
        }
        let keys = sqlx::query(
            "select source_key from record_patient_sources where practice_id = $1 and patient_id = $2
             order by source_key",
        )
        .bind(patient.practice.0)
        .bind(patient.id.0)
        .fetch_all(&db.pool)
        .await
        .map_err(db_err)?;
        for row in keys {
            let key: String = row.try_get("source_key").map_err(db_err)?;
            // A bundle's urn:uuid keys name nothing on a server; Patient/<id>
            // keys (from a searchset or a server's export) do.
            if let Some((_, id)) = key.rsplit_once("Patient/") {
                let url = format!("{}/Patient/{id}", self.base);
                if let Some(p) = self.get_json(&url, &[], "Patient read").await? {
                    return Ok(Some(p));
                }
            }
        }
        Ok(None)
    }

    /// The FHIR id of the patient's Patient resource.
    pub async fn patient_id(
        &self,
        db: &Db,
        patient: PatientRef,
    ) -> Result<Option<String>, PortError> {
        Ok(self
            .find_patient(db, patient)
            .await?
            .and_then(|p| p.get("id").and_then(Value::as_str).map(str::to_owned)))
    }
}
