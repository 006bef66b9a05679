//! Server functions for "your devices": list the person's own signed-in
//! sessions, sign one of the others out, or sign out everywhere. Each is a
//! plain form post that answers with a redirect, so all of it works
//! without JavaScript. A session is named only by its handle (see
//! `domain::devices`): its id never leaves the server.

use crate::error::PortalError;
use domain::devices::DeviceSession;
use domain::forms::FormFeedback;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::api::send_back;
#[cfg(feature = "ssr")]
use crate::guard::{check_signed_in, ports};

pub const DEVICES_PAGE: &str = "/account/devices";
/// The form name under which the page's feedback waits in the session.
pub const DEVICES_FORM: &str = "devices";
/// Feedback value naming the device just signed out ("Chrome on Android").
/// Carried in the session, not the address, so a link cannot make the page
/// claim something was signed out.
pub const SIGNED_OUT: &str = "signed_out";
/// Where the error summary leads: the list of devices.
pub const DEVICE_LIST: &str = "device-list";

#[cfg(feature = "ssr")]
const NOT_SIGNED_IN_THERE: &str = "That device is not signed in to your account. It may have signed out already: check the list below";

#[server(prefix = "/api", endpoint = "my_devices")]
pub async fn my_devices() -> Result<Vec<DeviceSession>, PortalError> {
    let (ctx, actor) = check_signed_in::<MyDevices>()?;
    let current = ctx.session.device_handle();
    Ok(ports()?
        .devices
        .list(actor.account, current.as_deref())
        .await?)
}

#[server(prefix = "/api", endpoint = "sign_out_device")]
pub async fn sign_out_device(handle: String) -> Result<FormFeedback, PortalError> {
    use domain::devices::looks_like_handle;
    let (ctx, actor) = check_signed_in::<SignOutDevice>()?;
    let feedback = FormFeedback::new(DEVICES_FORM);
    if !looks_like_handle(&handle) {
        let refused = feedback.error(DEVICE_LIST, NOT_SIGNED_IN_THERE);
        return send_back(&ctx, refused, DEVICES_PAGE).await;
    }
    if ctx.session.device_handle().as_deref() == Some(handle.as_str()) {
        // The page offers no button for this, but the answer is plain: an
        // ordinary sign-out, which also clears the cookie.
        ctx.session.end().await?;
        leptos_axum::redirect("/signed-out");
        return Ok(feedback);
    }
    match ports()?
        .devices
        .end_one(actor.account, &handle, &ctx.request_id)
        .await?
    {
        Some(description) => {
            tracing::info!(account = actor.account.0, "signed out another device");
            send_back(&ctx, feedback.keep(SIGNED_OUT, &description), DEVICES_PAGE).await
        }
        // Someone else's session, or one already ended, look the same.
        None => {
            let refused = feedback.error(DEVICE_LIST, NOT_SIGNED_IN_THERE);
            send_back(&ctx, refused, DEVICES_PAGE).await
        }
    }
}

/// Ends every session of the account, this one too, and lands on the
/// signed-out page, which says what happened.
#[server(prefix = "/api", endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), PortalError> {
    let (ctx, actor) = check_signed_in::<SignOutEverywhere>()?;
    let ended = ports()?
        .devices
        .end_all(actor.account, &ctx.request_id)
        .await?;
    // The session's row is gone already; this clears the cookie as well.
    ctx.session.end().await?;
    tracing::info!(account = actor.account.0, ended, "signed out everywhere");
    leptos_axum::redirect("/signed-out?reason=everywhere");
    Ok(())
}
