//! The secret of a client just created in the console, held in this process's memory for the one
//! page view after the creating form (post/redirect/get): reloading that page, or going back to
//! it, never creates a second client, and shows the secret no more. Each secret is bound to the
//! session that created it and its customer, taken on its first view, dropped after a few
//! minutes unseen, and never written to the store or the log (its `Debug` prints nothing).
//! Bounded per session and in all, so a flood of creations cannot grow memory. How an invitation
//! went out (issue #12; never its link, issue #20) is held the same way, for the dialog after adding,
//! and so is a webhook endpoint's signing secret, made at subscription or rotation (issue #24).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use trustgate_core::access::Access;
use trustgate_core::ids::{ClientId, CustomerId};
use trustgate_core::secret::{random_token, ClientSecret};

/// How long a secret waits for its one view; the redirect follows at once, so this only covers
/// a slow network or a browser that asks before following.
pub const LIFETIME: Duration = Duration::from_secs(5 * 60);
const CAPACITY: usize = 1024;
const PER_SESSION: usize = 4;

/// What the one-time dialog shows.
pub struct Revealed {
    pub id: ClientId,
    pub name: String,
    pub secret: ClientSecret,
    /// What the client may call, for the dialog's example call.
    pub access: Access,
}

/// How an invitation just made went out, for its one view (never the link itself: issue #20).
pub struct InvitationShown {
    pub email: String,
    pub delivery: crate::mail::Delivery,
}

impl InvitationShown {
    pub fn emailed(&self) -> bool {
        self.delivery == crate::mail::Delivery::Emailed
    }

    pub fn mail_failed(&self) -> bool {
        self.delivery == crate::mail::Delivery::MailFailed
    }
}

/// A webhook endpoint's new signing secret, for its one view.
pub struct WebhookSecretShown {
    pub id: trustgate_core::ids::WebhookId,
    pub url: String,
    pub secret: secrecy::SecretString,
    /// Made by a rotation: the previous secret still signs for a while.
    pub rotated: bool,
}

struct Held<T> {
    session: [u8; 32],
    customer: CustomerId,
    revealed: T,
    until: Instant,
}

pub struct Reveals<T = Revealed>(Mutex<HashMap<String, Held<T>>>);

impl<T> Default for Reveals<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T> Reveals<T> {
    /// Holds `revealed` for one view by `session` in `customer`; returns the unguessable ticket
    /// the redirect carries.
    pub fn hold(&self, session: [u8; 32], customer: &CustomerId, revealed: T) -> String {
        let ticket = random_token();
        let now = Instant::now();
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.retain(|_, h| h.until > now);
        let mut mine: Vec<_> =
            held.iter().filter(|(_, h)| h.session == session).map(|(t, h)| (h.until, t.clone())).collect();
        mine.sort();
        let surplus = (mine.len() + 1).saturating_sub(PER_SESSION);
        for (_, oldest) in mine.into_iter().take(surplus) {
            held.remove(&oldest);
        }
        if held.len() >= CAPACITY {
            if let Some(oldest) = held.iter().min_by_key(|(_, h)| h.until).map(|(t, _)| t.clone()) {
                held.remove(&oldest);
            }
        }
        held.insert(ticket.clone(), Held { session, customer: customer.clone(), revealed, until: now + LIFETIME });
        ticket
    }

    /// The secret behind `ticket`, once: only for the session and customer it was created in.
    pub fn take(&self, ticket: &str, session: &[u8; 32], customer: &CustomerId) -> Option<T> {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let found = held.get(ticket)?;
        if found.until <= Instant::now() {
            held.remove(ticket);
            return None;
        }
        if found.session != *session || found.customer != *customer {
            return None;
        }
        held.remove(ticket).map(|h| h.revealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revealed() -> Revealed {
        Revealed {
            id: ClientId::generate(),
            name: "n".to_owned(),
            secret: ClientSecret::generate(),
            access: Access::Full,
        }
    }

    #[test]
    fn a_secret_is_shown_once_to_its_own_session_in_its_own_customer() {
        let reveals: Reveals = Reveals::default();
        let customer = CustomerId::parse("acme").unwrap();
        let other = CustomerId::parse("other").unwrap();
        let ticket = reveals.hold([1; 32], &customer, revealed());
        assert!(reveals.take(&ticket, &[2; 32], &customer).is_none(), "another session");
        assert!(reveals.take(&ticket, &[1; 32], &other).is_none(), "another customer");
        assert!(reveals.take(&ticket, &[1; 32], &customer).is_some(), "the first view");
        assert!(reveals.take(&ticket, &[1; 32], &customer).is_none(), "a reload");
    }

    #[test]
    fn a_session_holds_only_its_latest_few_secrets() {
        let reveals: Reveals = Reveals::default();
        let customer = CustomerId::parse("acme").unwrap();
        let tickets: Vec<_> = (0..PER_SESSION + 2).map(|_| reveals.hold([1; 32], &customer, revealed())).collect();
        let kept = tickets.iter().filter(|t| reveals.take(t, &[1; 32], &customer).is_some()).count();
        assert_eq!(kept, PER_SESSION);
        for _ in 0..CAPACITY + 10 {
            reveals.hold(random_token().as_bytes()[..32].try_into().unwrap(), &customer, revealed());
        }
        assert!(reveals.0.lock().unwrap().len() <= CAPACITY);
    }
}
