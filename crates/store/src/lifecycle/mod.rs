//! The certificate lifecycle: requests and renewals, the farm's certificate settings and
//! notification contacts.

pub(crate) mod request;
pub(crate) mod settings;
