//! v2 onboarding flows and the audit trail.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use stack_core::store::AuditFilter;
use uuid::Uuid;

use super::wire::{AuditLog, Onboarding};
use crate::http::api_error::ApiResult;
use crate::rail::Tag;
use crate::rail::input::Transition;
use crate::rail::pages::{Sliced, cursor_request};
use crate::rail::service::Rail;

/// An onboarding flow was started.
#[derive(Debug, ApiResponse)]
pub enum Started {
    /// The new flow.
    #[oai(status = 201)]
    Created(Json<Onboarding>),
}

/// v2 onboarding and audit logs.
#[derive(Debug, Clone)]
pub struct Flows {
    rail: Rail,
}

impl Flows {
    /// The resource over `rail`.
    pub fn new(rail: Rail) -> Self {
        Self { rail }
    }
}

#[OpenApi]
impl Flows {
    /// Start a user's onboarding flow (one per user; a second is 409).
    #[oai(
        path = "/users/:id/onboarding",
        method = "post",
        operation_id = "startOnboarding",
        tag = "Tag::Onboarding"
    )]
    async fn start(&self, id: Path<Uuid>) -> ApiResult<Started> {
        let flow = self.rail.start_onboarding(id.0).await?;
        Ok(Started::Created(Json(flow.into())))
    }

    /// Move an onboarding flow (by the flow's id); a move the flow does not allow is 422 on
    /// `/status`, naming both states.
    #[oai(
        path = "/onboarding/:id/transitions",
        method = "post",
        operation_id = "moveOnboarding",
        tag = "Tag::Onboarding"
    )]
    async fn transition(
        &self,
        id: Path<Uuid>,
        body: Json<Transition>,
    ) -> ApiResult<Json<Onboarding>> {
        let flow = self
            .rail
            .advance_onboarding(id.0, body.0.status.into())
            .await?;
        Ok(Json(flow.into()))
    }

    /// The audit trail, newest first, by keyset cursor.
    #[oai(
        path = "/audit-logs",
        method = "get",
        operation_id = "listAuditLogs",
        tag = "Tag::Audit"
    )]
    async fn audit_logs(
        &self,
        /// The `next_cursor` of the previous slice; absent for the newest.
        #[oai(validator(max_length = 64, pattern = r"^-?[0-9]{1,17}\.[0-9a-f]{32}$"))]
        cursor: Query<Option<String>>,
        /// Slice size, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// Only logs about this user.
        user_id: Query<Option<Uuid>>,
        /// Only this action (`deposit.confirmed`).
        #[oai(validator(min_length = 1, max_length = 64))]
        action: Query<Option<String>>,
        /// Only logs written at or after this time (RFC 3339).
        created_from: Query<Option<DateTime<Utc>>>,
        /// Only logs written before this time (RFC 3339).
        created_to: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<Sliced<AuditLog>>> {
        let request = cursor_request(cursor.0.as_deref(), limit.0)?;
        let filter = AuditFilter {
            user_id: user_id.0,
            action: action.0,
            created_from: created_from.0,
            created_to: created_to.0,
        };
        let slice = self.rail.scan_audit_logs(&filter, request).await?;
        Ok(Json(Sliced::of(slice, request, AuditLog::from)))
    }
}
