//! Invitations for local administrators: a pending membership grants nothing (`standing`,
//! `memberships`, `client_grant` and every authority check skip it) until its invitee accepts.

/// This domain's SQL, instantiated once per backend by [`crate::sql::store_impl!`] in a module
/// of the same name inside the backend's module.
macro_rules! queries {
    ($store:ty, $db:ty) => {
        use time::OffsetDateTime;
        use trustgate_core::admin::Email;
        use trustgate_core::event::{self, Actor, InvitationEvent};
        use trustgate_core::ids::{AdminId, CustomerId};
        use trustgate_core::lifecycle;

        use crate::changes::Change;
        use crate::error::{StoreError, StoreResult};
        use crate::model::{Invitation, InvitationTerms, Member};
        use crate::sql::customers::CustomerRow;
        use crate::sql::ms;

        use super::admins::{authority, load_member, withdraw};
        use super::feed::insert_changes;
        use super::system_log::insert_log;
        use super::Tx;

        /// The invitation whose token has `verifier`, read in `tx`.
        async fn find_invitation(tx: &mut Tx, verifier: &[u8; 32]) -> StoreResult<Option<Invitation>> {
            let row: Option<(String, String, i64)> =
                sqlx::query_as("SELECT customer_id, admin_id, expires_at FROM invitations WHERE verifier = $1")
                    .bind(verifier.to_vec())
                    .fetch_optional(&mut **tx)
                    .await?;
            let Some((customer, admin, expires_at)) = row else { return Ok(None) };
            let customer = CustomerId::parse(&customer)?;
            let member =
                load_member(tx, &customer, AdminId::parse(&admin)?).await?.ok_or(StoreError::NotFound("invitation"))?;
            let customer =
                sqlx::query_as::<_, CustomerRow>(concat!(crate::sql::customers::customer_select!(), "WHERE id = $1"))
                    .bind(customer.as_str())
                    .fetch_one(&mut **tx)
                    .await?
                    .try_into()?;
            let (hash,): (Option<String>,) = sqlx::query_as("SELECT password_hash FROM admins WHERE id = $1")
                .bind(member.admin.id.to_string())
                .fetch_one(&mut **tx)
                .await?;
            Ok(Some(Invitation {
                customer,
                admin: member.admin,
                access: member.access,
                expires_at: crate::sql::from_ms(expires_at),
                has_password: hash.is_some(),
            }))
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn resend_invitation(
            store: &$store,
            customer: &CustomerId,
            admin: AdminId,
            terms: &InvitationTerms,
            actor: &Actor,
        ) -> StoreResult<Member> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let authority = authority(&mut tx, customer, actor).await?;
            let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
            if member.pending.is_none() {
                return Err(lifecycle::Refusal::NotPending.into());
            }
            lifecycle::withdraw_or_resend(&authority, &member.access)?;
            let now = OffsetDateTime::now_utc();
            sqlx::query(
                "UPDATE invitations SET verifier = $1, created_at = $2, expires_at = $3, expiry_logged = 0 \
                 WHERE customer_id = $4 AND admin_id = $5",
            )
            .bind(terms.verifier.to_vec())
            .bind(ms(now))
            .bind(ms(terms.expires_at))
            .bind(customer.as_str())
            .bind(admin.to_string())
            .execute(&mut *tx)
            .await?;
            insert_log(
                &mut tx,
                &event::invitation(customer, &member.admin, &member.access, InvitationEvent::Resent, now, actor),
            )
            .await?;
            let member = load_member(&mut tx, customer, admin).await?.ok_or(StoreError::NotFound("administrator"))?;
            store.commit(tx, &[]).await?;
            Ok(member)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn cancel_invitation(
            store: &$store,
            customer: &CustomerId,
            email: &Email,
            actor: &Actor,
        ) -> StoreResult<bool> {
            let mut tx = store.write_tx().await?;
            <$store>::lock_customer(&mut tx, customer).await?;
            let authority = authority(&mut tx, customer, actor).await?;
            let found: Option<(String,)> = sqlx::query_as(
                "SELECT m.admin_id FROM memberships m JOIN invitations i \
                 ON i.customer_id = m.customer_id AND i.admin_id = m.admin_id \
                 WHERE m.customer_id = $1 AND m.email = $2",
            )
            .bind(customer.as_str())
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((admin,)) = found else { return Ok(false) };
            let member = load_member(&mut tx, customer, AdminId::parse(&admin)?)
                .await?
                .ok_or(StoreError::NotFound("administrator"))?;
            lifecycle::withdraw_or_resend(&authority, &member.access)?;
            let changes = withdraw(&mut tx, customer, &member, actor).await?;
            store.commit(tx, &changes).await?;
            Ok(true)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn invitation(store: &$store, verifier: &[u8; 32]) -> StoreResult<Option<Invitation>> {
            let mut tx = store.pool.begin().await?;
            let found = find_invitation(&mut tx, verifier).await?;
            tx.rollback().await?;
            Ok(found)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn accept_invitation(
            store: &$store,
            verifier: &[u8; 32],
            password_hash: Option<&str>,
            now: OffsetDateTime,
        ) -> StoreResult<Invitation> {
            let mut tx = store.write_tx().await?;
            let Some(found) = find_invitation(&mut tx, verifier).await? else {
                return Err(StoreError::NotFound("invitation"));
            };
            <$store>::lock_customer(&mut tx, &found.customer.id).await?;
            // Read again under the customer's lock: a cancellation or a second acceptance may have won.
            let Some(invitation) = find_invitation(&mut tx, verifier).await? else {
                return Err(StoreError::NotFound("invitation"));
            };
            if invitation.expires_at <= now {
                return Err(lifecycle::Refusal::InvitationExpired.into());
            }
            // Issue #20: the proof the caller brought must fit the account as it is now, under the
            // lock. A new password is set only on an account that has none (the link proved the
            // e-mail); an account that has one joins only after its password was checked, which
            // the caller says by passing none. The link never sets or changes an existing password.
            match (invitation.has_password, password_hash) {
                (false, Some(hash)) => {
                    // Another customer's invitation of the same new account may have set one since
                    // (its lock is not this customer's): then this one needs that password.
                    let set =
                        sqlx::query("UPDATE admins SET password_hash = $1 WHERE id = $2 AND password_hash IS NULL")
                            .bind(hash)
                            .bind(invitation.admin.id.to_string())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    if set != 1 {
                        return Err(StoreError::Conflict(
                            "the account has a password now: open the invitation again and sign in with it".to_owned(),
                        ));
                    }
                }
                (true, None) => {}
                (false, None) => return Err(StoreError::Conflict("a password must be chosen".to_owned())),
                (true, Some(_)) => {
                    return Err(StoreError::Conflict(
                        "the account has a password now: open the invitation again and sign in with it".to_owned(),
                    ))
                }
            }
            sqlx::query("DELETE FROM invitations WHERE verifier = $1")
                .bind(verifier.to_vec())
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE memberships SET updated_at = $1 WHERE customer_id = $2 AND admin_id = $3")
                .bind(ms(now))
                .bind(invitation.customer.id.as_str())
                .bind(invitation.admin.id.to_string())
                .execute(&mut *tx)
                .await?;
            let actor = Actor::Admin { id: invitation.admin.id, name: invitation.admin.email.to_string() };
            let entry = event::invitation(
                &invitation.customer.id,
                &invitation.admin,
                &invitation.access,
                InvitationEvent::Accepted,
                now,
                &actor,
            );
            insert_log(&mut tx, &entry).await?;
            let changes = [Change::MembershipChanged(invitation.customer.id.clone(), invitation.admin.id)];
            insert_changes(&mut tx, &changes, now).await?;
            store.commit(tx, &changes).await?;
            Ok(invitation)
        }

        #[tracing::instrument(skip_all)]
        pub(super) async fn log_expired_invitations(store: &$store, now: OffsetDateTime) -> StoreResult<u64> {
            let mut tx = store.write_tx().await?;
            let due: Vec<(String, String)> = sqlx::query_as(
                "SELECT customer_id, admin_id FROM invitations WHERE expires_at <= $1 AND expiry_logged = 0 \
                 ORDER BY expires_at LIMIT 1000",
            )
            .bind(ms(now))
            .fetch_all(&mut *tx)
            .await?;
            for (customer, admin) in &due {
                let customer = CustomerId::parse(customer)?;
                let Some(member) = load_member(&mut tx, &customer, AdminId::parse(admin)?).await? else { continue };
                let entry = event::invitation(
                    &customer,
                    &member.admin,
                    &member.access,
                    InvitationEvent::Expired,
                    now,
                    &Actor::System,
                );
                insert_log(&mut tx, &entry).await?;
                sqlx::query("UPDATE invitations SET expiry_logged = 1 WHERE customer_id = $1 AND admin_id = $2")
                    .bind(customer.as_str())
                    .bind(admin)
                    .execute(&mut *tx)
                    .await?;
            }
            store.commit(tx, &[]).await?;
            Ok(due.len() as u64)
        }
    };
}
pub(crate) use queries;
