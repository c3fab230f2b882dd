//! Reading POSTed forms. A handler gets form data only through these extractors, and
//! each checks the CSRF token before handing anything over, so no POST can skip it.
//! Values are wiped from memory when dropped, since some are passwords or keys.

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::response::{IntoResponse, Response};
use zeroize::Zeroizing;

use crate::auth::{Admin, session_id};
use crate::error::PageError;
use crate::session::SessionId;
use crate::state::Shared;

/// Largest request body accepted (uploads included).
pub(crate) const MAX_BODY: usize = 1024 * 1024;
/// Most parts a multipart form may have.
const MAX_PARTS: usize = 32;

/// Text fields of a form, in order.
#[derive(Default)]
pub(crate) struct FormData {
    fields: Vec<(String, Zeroizing<String>)>,
}

impl std::fmt::Debug for FormData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be passwords.
        f.debug_list()
            .entries(self.fields.iter().map(|(k, _)| k))
            .finish()
    }
}

impl FormData {
    /// Form data from name/value pairs.
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> FormData {
        FormData {
            fields: pairs
                .into_iter()
                .map(|(k, v)| (k, Zeroizing::new(v)))
                .collect(),
        }
    }

    /// The first value of `name`, if sent.
    pub(crate) fn opt(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or "" when it was not sent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.opt(name).unwrap_or("")
    }

    /// Whether a checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.opt(name).is_some_and(|v| !v.is_empty())
    }
}

/// An uploaded file.
pub(crate) struct Upload {
    /// The form field it came in.
    pub(crate) field: String,
    /// The file's name as the browser gave it, reduced to a safe base name.
    pub(crate) file_name: String,
    /// Its bytes (wiped on drop: a PFX or key file holds a private key).
    pub(crate) bytes: Zeroizing<Vec<u8>>,
}

/// A signed-in administrator's urlencoded form with a valid CSRF token.
pub(crate) struct AdminForm {
    /// Who sent it.
    pub(crate) admin: Admin,
    /// The fields.
    pub(crate) data: FormData,
}

/// A signed-in administrator's multipart form with a valid CSRF token.
pub(crate) struct AdminUpload {
    /// Who sent it.
    pub(crate) admin: Admin,
    /// The text fields.
    pub(crate) data: FormData,
    /// The files.
    pub(crate) files: Vec<Upload>,
}

/// A form from the sign-in page, whose CSRF token belongs to an anonymous session.
pub(crate) struct VisitorForm {
    /// The (anonymous) session the sign-in page was shown in.
    pub(crate) id: SessionId,
    /// The fields.
    pub(crate) data: FormData,
}

fn csrf_refused() -> PageError {
    PageError::Forbidden(
        "The form's security token is missing or does not belong to your session, so the request was refused. Reload the page and try again."
            .into(),
    )
}

fn check(state: &Shared, id: &SessionId, data: &FormData) -> Result<(), PageError> {
    match data.opt(crate::csrf::FIELD) {
        Some(t) if state.csrf.verify(id, t) => Ok(()),
        _ => Err(csrf_refused()),
    }
}

async fn read_urlencoded(req: Request, state: &Shared) -> Result<FormData, PageError> {
    match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
        Ok(axum::Form(pairs)) => Ok(FormData::from_pairs(pairs)),
        Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            Err(PageError::TooLarge(too_large()))
        }
        Err(e) => Err(PageError::BadRequest(format!(
            "the form could not be read: {e}"
        ))),
    }
}

fn too_large() -> String {
    format!(
        "The request is larger than {} KiB, the limit for forms and uploads.",
        MAX_BODY / 1024
    )
}

impl FromRequest<Shared> for AdminForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let data = read_urlencoded(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        check(state, &admin.id, &data).map_err(IntoResponse::into_response)?;
        Ok(AdminForm { admin, data })
    }
}

impl FromRequest<Shared> for VisitorForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Response> {
        let id = session_id(req.headers(), state.cookie_name())
            .filter(|id| state.sessions.alive(id, state.instant()))
            .ok_or_else(|| csrf_refused().into_response())?;
        let data = read_urlencoded(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        check(state, &id, &data).map_err(IntoResponse::into_response)?;
        Ok(VisitorForm { id, data })
    }
}

impl FromRequest<Shared> for AdminUpload {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Shared) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let mut multipart = Multipart::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| {
                PageError::BadRequest(format!("the upload could not be read: {e}")).into_response()
            })?;
        let failed = |e: axum::extract::multipart::MultipartError| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                PageError::TooLarge(too_large()).into_response()
            } else {
                PageError::BadRequest(format!("the upload could not be read: {e}")).into_response()
            }
        };
        let mut pairs = Vec::new();
        let mut files = Vec::new();
        let mut count = 0usize;
        while let Some(field) = multipart.next_field().await.map_err(failed)? {
            count += 1;
            if count > MAX_PARTS {
                return Err(
                    PageError::BadRequest("the form has too many parts".into()).into_response()
                );
            }
            let name = field.name().unwrap_or_default().to_string();
            match field.file_name().map(safe_file_name) {
                Some(file_name) => {
                    let bytes = Zeroizing::new(field.bytes().await.map_err(failed)?.to_vec());
                    // A file input left empty arrives as a nameless, empty part.
                    if !(bytes.is_empty() && file_name.is_empty()) {
                        files.push(Upload {
                            field: name,
                            file_name,
                            bytes,
                        });
                    }
                }
                None => pairs.push((name, field.text().await.map_err(failed)?)),
            }
        }
        let data = FormData::from_pairs(pairs);
        check(state, &admin.id, &data).map_err(IntoResponse::into_response)?;
        Ok(AdminUpload { admin, data, files })
    }
}

/// The base name of an uploaded file, without directories or control characters, at
/// most 100 characters: it appears in messages and the audit trail.
pub(crate) fn safe_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    base.chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values() {
        let f = FormData::from_pairs(vec![
            ("a".into(), "1".into()),
            ("a".into(), "2".into()),
            ("box".into(), "on".into()),
            ("empty".into(), "".into()),
            ("password".into(), "hunter2hunter2".into()),
        ]);
        assert_eq!(f.get("a"), "1");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.opt("missing"), None);
        assert!(f.checked("box"));
        assert!(!f.checked("empty"));
        assert!(!format!("{f:?}").contains("hunter2"));
    }

    #[test]
    fn file_names_are_reduced() {
        assert_eq!(safe_file_name("C:\\Users\\me\\relay.pfx"), "relay.pfx");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("a\u{0}b\nc.pem"), "abc.pem");
        assert_eq!(safe_file_name(&"x".repeat(300)).len(), 100);
    }
}
