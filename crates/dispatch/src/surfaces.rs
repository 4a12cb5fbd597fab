//! What the technician's page and the customer portal receive: each audience its own view,
//! made here from the canonical case, so no door can hand a phone or a customer more than
//! the view holds. Staff and agents read the canonical case ([`Service::case`]).

use crate::error::ServiceError;
use crate::service::{CallContext, Service};
use crate::settings::Shop;
use crate::tickets::CaseFilter;
use domain::job_view::JobView;
use domain::portal_view::{portal_view, PortalShop, PortalTicket, ShopLabels};
use domain::Action;

impl ShopLabels for Shop {
    fn window_label(&self, start_ms: i64, end_ms: i64) -> String {
        Shop::window_label(self, start_ms, end_ms)
    }
    fn time_label(&self, ms: i64) -> String {
        Shop::time_label(self, ms)
    }
    fn money(&self, cents: i64) -> String {
        Shop::money(self, cents)
    }
    fn card(&self) -> PortalShop {
        let p = &self.profile;
        PortalShop {
            name: p.business_name.clone(),
            phone: Some(p.phone.clone()).filter(|x| !x.is_empty()),
            // The hash names the picture, so a new logo is never served from a stale cache.
            logo_url: p.logo.as_ref().map(|l| format!("/shop/logo?v={}", &l.sha256[..l.sha256.len().min(12)])),
        }
    }
}

impl Service {
    /// One of the technician's own jobs (another's reads as not found).
    #[tracing::instrument(name = "job.read", skip(self, ctx), fields(actor = %ctx.actor.id))]
    pub async fn job(&self, ctx: &CallContext, ticket_id: &str) -> Result<JobView, ServiceError> {
        self.authorize(ctx, Action::JobsRead)?;
        Ok(JobView::of(&self.visible_case(ctx, ticket_id).await?))
    }

    /// The technician's open jobs, as views.
    pub async fn jobs(&self, ctx: &CallContext) -> Result<Vec<JobView>, ServiceError> {
        self.authorize(ctx, Action::JobsRead)?;
        let filter = CaseFilter { open_only: true, limit: Some(200), ..Default::default() };
        let mut out = vec![];
        for row in self.cases(ctx, &filter).await? {
            out.push(JobView::of(&self.visible_case(ctx, &row.id).await?));
        }
        Ok(out)
    }

    /// One of the customer's tickets with its conversation (another's reads as not found).
    #[tracing::instrument(name = "portal.read", skip(self, ctx), fields(actor = %ctx.actor.id))]
    pub async fn portal_ticket(&self, ctx: &CallContext, ticket_id: &str) -> Result<PortalTicket, ServiceError> {
        self.authorize(ctx, Action::PortalRead)?;
        let case = self.visible_case(ctx, ticket_id).await?;
        let messages = self.conversation_of(&case).await?;
        Ok(portal_view(&*self.shop().await, case, messages))
    }

    /// The customer's tickets (the one ticket, for a visitor who came by a link), without
    /// their conversations.
    pub async fn portal_tickets(&self, ctx: &CallContext) -> Result<Vec<PortalTicket>, ServiceError> {
        self.authorize(ctx, Action::PortalRead)?;
        let filter = CaseFilter { limit: Some(100), ..Default::default() };
        let mut out = vec![];
        let shop = self.shop().await;
        for row in self.cases(ctx, &filter).await? {
            out.push(portal_view(&*shop, self.visible_case(ctx, &row.id).await?, vec![]));
        }
        Ok(out)
    }

    /// The version of one of the customer's tickets: the portal polls it and reloads on a change.
    pub async fn portal_stamp(&self, ctx: &CallContext, ticket_id: &str) -> Result<i64, ServiceError> {
        self.authorize(ctx, Action::PortalRead)?;
        Ok(self.visible_case(ctx, ticket_id).await?.version)
    }

    /// Whether the caller may add a photo to this ticket now: role, reach and the ticket's
    /// state, checked before a door reads a single byte of the file.
    pub async fn may_add_photo(&self, ctx: &CallContext, ticket_id: &str) -> Result<(), ServiceError> {
        self.authorize(ctx, Action::CloseoutAddPhoto)?;
        let case = self.visible_case(ctx, ticket_id).await?;
        Self::require_state(&case, Action::CloseoutAddPhoto)
    }
}
