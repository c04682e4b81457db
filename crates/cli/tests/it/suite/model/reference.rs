//! The reference model of the rules: two customers, their administrators and API clients, and what
//! each of them may do. It models the rules as DESIGN.md and issue #20 state them, not what the
//! server happens to do today: where the two differ, the test fails.

use std::fmt;

use proptest::prelude::*;
use proptest_state_machine::ReferenceStateMachine;

/// Customer A, whose actors are hostile.
pub const A: usize = 0;
/// Customer B, the victim.
pub const B: usize = 1;

/// Bits of a Custom access: the Platform permissions the model grants.
pub const ADMINISTRATORS: u8 = 1;
pub const API_CLIENTS: u8 = 2;
pub const NOTIFICATIONS: u8 = 4;
pub const SYSTEM_LOG: u8 = 8;
const NAMES: [(u8, &str); 4] = [
    (ADMINISTRATORS, "administrators"),
    (API_CLIENTS, "apiClients"),
    (NOTIFICATIONS, "notifications"),
    (SYSTEM_LOG, "systemLog"),
];

/// An API client holds at most this many secrets (SP6).
const MAX_SECRETS: usize = 3;

/// `Full`, or `Custom` with a non-empty set of [`NAMES`] bits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Acc {
    Full,
    Custom(u8),
}

impl Acc {
    pub fn allows(self, bit: u8) -> bool {
        match self {
            Acc::Full => true,
            Acc::Custom(bits) => bits & bit != 0,
        }
    }

    /// An administrator may only grant, change or remove access they hold themselves.
    pub fn covers(self, other: Acc) -> bool {
        match (self, other) {
            (Acc::Full, _) => true,
            (Acc::Custom(_), Acc::Full) => false,
            (Acc::Custom(mine), Acc::Custom(theirs)) => theirs & !mine == 0,
        }
    }

    /// The policy names of a Custom access (none for Full).
    pub fn policies(self) -> Vec<&'static str> {
        match self {
            Acc::Full => Vec::new(),
            Acc::Custom(bits) => NAMES.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, name)| *name).collect(),
        }
    }

    /// The union of two accesses (issue #25: a member's own joined with their groups').
    pub fn join(self, other: Acc) -> Acc {
        match (self, other) {
            (Acc::Full, _) | (_, Acc::Full) => Acc::Full,
            (Acc::Custom(a), Acc::Custom(b)) => Acc::Custom(a | b),
        }
    }

    pub fn grants_nothing(self) -> bool {
        self == Acc::Custom(0)
    }

    pub fn access_type(self) -> &'static str {
        match self {
            Acc::Full => "Full",
            Acc::Custom(_) => "Custom",
        }
    }
}

impl fmt::Debug for Acc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Acc::Full => write!(f, "Full"),
            Acc::Custom(_) => write!(f, "Custom({})", self.policies().join("+")),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AdminM {
    /// Access in each customer, if a member.
    pub member: [Option<Acc>; 2],
    pub disabled: bool,
    pub deleted: bool,
    /// The customer whose SCIM provisioned this administrator.
    pub scim: Option<usize>,
    /// A local administrator (e-mail and password), invited rather than added.
    pub local: bool,
    /// Per customer: the access a pending invitation offers (it grants nothing yet).
    pub pending: [Option<Acc>; 2],
    /// The administrator whose subject this one was added with (`scim-shared-identity`).
    pub twin_of: Option<usize>,
    /// A new person known only by invitations, never accepted: withdrawing the last one
    /// forgets them (no password, no customer).
    pub invitee_only: bool,
    /// Holds a confirmed second factor (issue #25).
    pub factor: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Secure { owner: usize },
    Principal { access: Acc, converted: bool },
}

#[derive(Clone, Debug)]
pub struct SecretM {
    pub expires: bool,
    pub alive: bool,
}

#[derive(Clone, Debug)]
pub struct ClientM {
    pub customer: usize,
    pub kind: Kind,
    pub alive: bool,
    pub secrets: Vec<SecretM>,
}

impl ClientM {
    fn live_secrets(&self) -> usize {
        self.secrets.iter().filter(|s| s.alive).count()
    }

    pub fn is_principal(&self) -> bool {
        matches!(self.kind, Kind::Principal { .. })
    }
}

/// A group of a customer's administrators, from its identity provider (issue #25).
#[derive(Clone, Debug)]
pub struct GroupM {
    pub customer: usize,
    /// What a Full administrator gave it: nothing at first.
    pub access: Acc,
    pub members: Vec<usize>,
    pub alive: bool,
}

/// What exists: administrators and clients are never removed from the vectors (operations name
/// them by index), only marked deleted.
#[derive(Clone, Debug)]
pub struct Model {
    pub admins: Vec<AdminM>,
    pub clients: Vec<ClientM>,
    /// Per customer: "suspend clients of disabled admins" (R7's stricter policy).
    pub suspend: [bool; 2],
    /// Per customer: a member whom their groups leave with no access stays in the customer
    /// (`keep-in-customer`); by default they are removed from it (issue #25).
    pub keep_without_access: [bool; 2],
    /// Never removed either, only marked deleted.
    pub groups: Vec<GroupM>,
}

/// One step of one actor. `by` names an API client (Platform API, with its token) or an
/// administrator (management API, in a session); `customer` is the customer the call names
/// (`Citrix-CustomerId` or the path), which a hostile actor sets to the other customer.
#[derive(Clone, Debug)]
pub enum Op {
    // Platform API, with a client's token.
    /// `twin`: added with the subject of that administrator (another customer's SCIM user).
    CreateAdmin {
        by: usize,
        customer: usize,
        access: Acc,
        twin: Option<usize>,
    },
    SetAdminAccess {
        by: usize,
        customer: usize,
        admin: usize,
        access: Acc,
    },
    RemoveAdmin {
        by: usize,
        customer: usize,
        admin: usize,
    },
    ListAdmins {
        by: usize,
        customer: usize,
    },
    /// The legacy route with the customer in the path.
    PostNotification {
        by: usize,
        customer: usize,
    },
    /// RFC 7009, `by`'s credentials presenting `of`'s token.
    Revoke {
        by: usize,
        of: usize,
    },
    // Management API, in an administrator's session.
    CreateClient {
        by: usize,
        customer: usize,
    },
    DeleteClient {
        by: usize,
        customer: usize,
        client: usize,
    },
    CreatePrincipal {
        by: usize,
        customer: usize,
        access: Acc,
    },
    SetPrincipalAccess {
        by: usize,
        customer: usize,
        client: usize,
        access: Acc,
    },
    DeletePrincipal {
        by: usize,
        customer: usize,
        client: usize,
    },
    AddSecret {
        by: usize,
        customer: usize,
        client: usize,
        expires: bool,
    },
    DeleteSecret {
        by: usize,
        customer: usize,
        client: usize,
        secret: usize,
    },
    Convert {
        by: usize,
        customer: usize,
        client: usize,
    },
    /// Invites a local administrator: `whom`, an existing one, or someone new.
    Invite {
        by: usize,
        customer: usize,
        access: Acc,
        whom: Option<usize>,
    },
    /// The inviter opens the link the API answered with and accepts it on the invitee's behalf.
    AcceptAsInviter {
        admin: usize,
        customer: usize,
    },
    // SCIM, with the provisioning token of customer `scim`, at `/scim/v2/{customer}`.
    ScimCreate {
        scim: usize,
        customer: usize,
    },
    ScimSetActive {
        scim: usize,
        customer: usize,
        admin: usize,
        active: bool,
    },
    ScimDelete {
        scim: usize,
        customer: usize,
        admin: usize,
    },
    // Groups (issue #25): the provider keeps them and their members over SCIM; a Full
    // administrator's client gives them access through the Administrators API.
    ScimCreateGroup {
        scim: usize,
        customer: usize,
    },
    /// Okta's `add` of a member list, or Entra ID's `remove` with `members[value eq "…"]`.
    ScimGroupMember {
        scim: usize,
        customer: usize,
        group: usize,
        admin: usize,
        add: bool,
    },
    ScimDeleteGroup {
        scim: usize,
        customer: usize,
        group: usize,
    },
    SetGroupAccess {
        by: usize,
        customer: usize,
        group: usize,
        access: Acc,
    },
    // The operator's CLI (and, for disable/enable, what an identity provider does).
    DisableAdmin {
        admin: usize,
    },
    EnableAdmin {
        admin: usize,
    },
    DeleteAdmin {
        admin: usize,
    },
    SetPolicy {
        customer: usize,
        suspend: bool,
    },
    /// `customer set-lost-access-policy` (issue #25): whether a member whom their groups leave
    /// with no access stays in the customer (`keep`) or is removed from it.
    SetLostAccessPolicy {
        customer: usize,
        keep: bool,
    },
    /// `keys rotate-server-key`: changes no one's access; every secret made before keeps granting.
    RotateServerKey,
    /// The console's reset of a member's lost second factor (issue #25): another Full
    /// administrator of a customer the member belongs to.
    ResetFactor {
        by: usize,
        customer: usize,
        admin: usize,
    },
}

impl Model {
    /// A: admin 0 (Full) and admin 2 (Custom apiClients+notifications, and systemLog through A's
    /// group 0); B: admin 1 (Full), admin 2 (Full), the one person of both customers, admin 3
    /// (local, Custom administrators+apiClients) and admin 4 (provisioned by B's SCIM with no
    /// access of their own), both in B's group 1 (apiClients+notifications). Clients 0-3: one
    /// for each membership of admins 0-2; client 4, admin 4's in B, holds access through group 1
    /// alone (R6 when it goes).
    pub fn initial() -> Self {
        let admin = |a: Option<Acc>, b: Option<Acc>, local: bool| AdminM {
            member: [a, b],
            disabled: false,
            deleted: false,
            scim: None,
            local,
            pending: [None, None],
            twin_of: None,
            invitee_only: false,
            // B's administrators enrolled a second factor: A's must not be able to reset it.
            factor: b.is_some(),
        };
        let client = |customer, owner| ClientM {
            customer,
            kind: Kind::Secure { owner },
            alive: true,
            secrets: vec![SecretM { expires: false, alive: true }],
        };
        Model {
            admins: vec![
                admin(Some(Acc::Full), None, false),
                admin(None, Some(Acc::Full), false),
                admin(Some(Acc::Custom(API_CLIENTS | NOTIFICATIONS)), Some(Acc::Full), false),
                admin(None, Some(Acc::Custom(ADMINISTRATORS | API_CLIENTS)), true),
                // Provisioned by SCIM, they sign in through the provider: no second factor here.
                AdminM { scim: Some(B), factor: false, ..admin(None, Some(Acc::Custom(0)), false) },
            ],
            clients: vec![client(A, 0), client(B, 1), client(A, 2), client(B, 2), client(B, 4)],
            suspend: [false, false],
            keep_without_access: [false, false],
            // Issue #25: admin 2 holds systemLog in A through group 0 alone; B's group 1 holds
            // admin 3 and no access yet.
            groups: vec![
                GroupM { customer: A, access: Acc::Custom(SYSTEM_LOG), members: vec![2], alive: true },
                GroupM {
                    customer: B,
                    access: Acc::Custom(API_CLIENTS | NOTIFICATIONS),
                    members: vec![3, 4],
                    alive: true,
                },
            ],
        }
    }

    /// The access a client's token carries now (R4, R5, R7, SP2, SP4): none when deleted or
    /// suspended.
    pub fn client_access(&self, c: usize) -> Option<Acc> {
        let client = &self.clients[c];
        if !client.alive {
            return None;
        }
        match client.kind {
            Kind::Secure { owner } => {
                let owner_index = owner;
                let owner = &self.admins[owner];
                if owner.disabled && self.suspend[client.customer] {
                    None
                } else {
                    self.held(owner_index, client.customer)
                }
            }
            Kind::Principal { access, .. } => Some(access),
        }
    }

    /// An administrator's rights in a session in `customer`.
    pub fn admin_access(&self, admin: usize, customer: usize) -> Option<Acc> {
        let a = &self.admins[admin];
        if a.deleted || a.disabled {
            None
        } else {
            self.held(admin, customer)
        }
    }

    /// What a member holds in `customer`: their own access joined with their live groups'.
    pub fn held(&self, admin: usize, customer: usize) -> Option<Acc> {
        let own = self.admins[admin].member[customer]?;
        Some(
            self.groups
                .iter()
                .filter(|g| g.alive && g.customer == customer && g.members.contains(&admin))
                .fold(own, |held, g| held.join(g.access)),
        )
    }

    fn live_group(&self, group: usize, customer: usize) -> bool {
        self.groups.get(group).is_some_and(|g| g.alive && g.customer == customer)
    }

    /// The live groups of `customer`.
    pub fn groups_of(&self, customer: usize) -> Vec<usize> {
        (0..self.groups.len()).filter(|&g| self.live_group(g, customer)).collect()
    }

    /// R6 through groups: each of `before`'s members who held access and holds none now loses
    /// their clients in the group's customer, and is removed from it unless it keeps such members.
    fn after_group_change(&mut self, customer: usize, before: Vec<(usize, Option<Acc>)>) {
        for (admin, held) in before {
            let lost = held.is_some_and(|h| !h.grants_nothing())
                && self.held(admin, customer).is_some_and(Acc::grants_nothing);
            if lost {
                self.delete_clients_of(admin, customer);
                if !self.keep_without_access[customer] {
                    self.admins[admin].member[customer] = None;
                }
            }
        }
    }

    fn full_admins(&self, customer: usize) -> usize {
        self.admins.iter().filter(|a| !a.deleted && a.member[customer] == Some(Acc::Full)).count()
    }

    /// The caller's access when client `by` calls a route needing `bit` in `customer`.
    fn platform_caller(&self, by: usize, customer: usize, bit: u8) -> Option<Acc> {
        if self.clients[by].customer != customer {
            return None;
        }
        self.client_access(by).filter(|a| a.allows(bit))
    }

    fn live_client(&self, c: usize, customer: usize) -> Option<&ClientM> {
        Some(&self.clients[c]).filter(|k| k.alive && k.customer == customer)
    }

    fn live_principal(&self, c: usize, customer: usize) -> bool {
        self.live_client(c, customer).is_some_and(ClientM::is_principal)
    }

    /// Whether an admin in a session may manage client `c`'s secrets (R3, SP3).
    fn manages_secrets(&self, by: usize, customer: usize, c: usize) -> bool {
        let Some(held) = self.admin_access(by, customer).filter(|a| a.allows(API_CLIENTS)) else { return false };
        match self.live_client(c, customer).map(|k| &k.kind) {
            Some(Kind::Secure { owner }) => *owner == by,
            Some(Kind::Principal { .. }) => held == Acc::Full,
            None => false,
        }
    }

    /// The administrators, principals and groups `GET /administrators` lists to a caller holding
    /// `held`.
    pub fn listed_admins(&self, customer: usize, held: Acc) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let admins = (0..self.admins.len())
            .filter(|&i| self.admins[i].member[customer].is_some() || self.admins[i].pending[customer].is_some())
            .collect();
        let principals = if held == Acc::Full { self.principals_of(customer) } else { Vec::new() };
        (admins, principals, self.groups_of(customer))
    }

    pub fn principals_of(&self, customer: usize) -> Vec<usize> {
        (0..self.clients.len()).filter(|&c| self.live_principal(c, customer)).collect()
    }

    pub fn clients_of(&self, admin: usize, customer: usize) -> Vec<usize> {
        (0..self.clients.len())
            .filter(|&c| self.live_client(c, customer).is_some_and(|k| k.kind == Kind::Secure { owner: admin }))
            .collect()
    }

    /// Whether customer `scim`'s provisioning token reaches `admin` at `/scim/v2/{customer}`: its
    /// own provider's users only, while they are members.
    fn provisioned(&self, scim: usize, customer: usize, admin: usize) -> bool {
        let a = &self.admins[admin];
        scim == customer && a.scim == Some(customer) && !a.deleted && a.member[customer].is_some()
    }

    /// Whether the rules let `op` succeed in this state.
    pub fn allowed(&self, op: &Op) -> bool {
        match *op {
            Op::CreateAdmin { by, customer, access, .. } => {
                self.platform_caller(by, customer, ADMINISTRATORS).is_some_and(|held| held.covers(access))
            }
            Op::SetAdminAccess { by, customer, admin, access } => {
                let Some(held) = self.platform_caller(by, customer, ADMINISTRATORS) else { return false };
                if let (None, Some(offered)) =
                    (self.admins[admin].member[customer], self.admins[admin].pending[customer])
                {
                    return held.covers(offered) && held.covers(access);
                }
                let Some(before) = self.admins[admin].member[customer] else { return false };
                let loses_last_full = before == Acc::Full && access != Acc::Full && self.full_admins(customer) <= 1;
                held.covers(before) && held.covers(access) && !loses_last_full
            }
            Op::RemoveAdmin { by, customer, admin } => {
                let Some(held) = self.platform_caller(by, customer, ADMINISTRATORS) else { return false };
                if let (None, Some(offered)) =
                    (self.admins[admin].member[customer], self.admins[admin].pending[customer])
                {
                    return held.covers(offered);
                }
                let Some(before) = self.admins[admin].member[customer] else { return false };
                // Issue #25: the remover covers all the member holds, through groups too.
                let joined = self.held(admin, customer).unwrap_or(before);
                held.covers(joined) && !(before == Acc::Full && self.full_admins(customer) <= 1)
            }
            Op::ListAdmins { by, customer } => self.platform_caller(by, customer, ADMINISTRATORS).is_some(),
            Op::PostNotification { by, customer } => self.platform_caller(by, customer, NOTIFICATIONS).is_some(),
            // A suspended client still authenticates here: it can only give up its own tokens.
            Op::Revoke { by, .. } => self.clients[by].alive,
            Op::CreateClient { by, customer } => self.admin_access(by, customer).is_some_and(|a| a.allows(API_CLIENTS)),
            Op::DeleteClient { by, customer, client } => {
                self.admin_access(by, customer).is_some_and(|a| a.allows(API_CLIENTS))
                    && self.live_client(client, customer).is_some_and(|k| k.kind == Kind::Secure { owner: by })
            }
            Op::CreatePrincipal { by, customer, .. } => self.admin_access(by, customer) == Some(Acc::Full),
            Op::SetPrincipalAccess { by, customer, client, .. } | Op::DeletePrincipal { by, customer, client } => {
                self.admin_access(by, customer) == Some(Acc::Full) && self.live_principal(client, customer)
            }
            Op::AddSecret { by, customer, client, expires } => {
                self.manages_secrets(by, customer, client)
                    && self.clients[client].live_secrets() < MAX_SECRETS
                    && (expires || !self.clients[client].is_principal())
            }
            Op::DeleteSecret { by, customer, client, secret } => {
                self.manages_secrets(by, customer, client)
                    && self.clients[client].secrets[secret].alive
                    && self.clients[client].live_secrets() > 1
            }
            // SP3 and item 6: converting is a Full administrator's act, whoever owns the client.
            Op::Convert { by, customer, client } => {
                self.admin_access(by, customer) == Some(Acc::Full)
                    && self.live_client(client, customer).is_some_and(|k| !k.is_principal())
            }
            Op::Invite { by, customer, access, .. } => {
                self.platform_caller(by, customer, ADMINISTRATORS).is_some_and(|held| held.covers(access))
            }
            // Items 1 and 4: nobody joins a customer without proving control of the identity.
            Op::AcceptAsInviter { .. } => false,
            Op::ScimCreate { scim, customer } => scim == customer,
            Op::ScimSetActive { scim, customer, admin, .. } => self.provisioned(scim, customer, admin),
            Op::ScimDelete { scim, customer, admin } => {
                self.provisioned(scim, customer, admin)
                    && !(self.admins[admin].member[customer] == Some(Acc::Full) && self.full_admins(customer) <= 1)
            }
            Op::ScimCreateGroup { scim, customer } => scim == customer,
            Op::ScimGroupMember { scim, customer, group, admin, add } => {
                let a = &self.admins[admin];
                scim == customer
                    && self.live_group(group, customer)
                    && (!add || !a.deleted && a.member[customer].is_some())
            }
            Op::ScimDeleteGroup { scim, customer, group } => scim == customer && self.live_group(group, customer),
            // Only a Full administrator (here, their client) gives a group access.
            Op::SetGroupAccess { by, customer, group, .. } => {
                self.platform_caller(by, customer, ADMINISTRATORS) == Some(Acc::Full)
                    && self.live_group(group, customer)
            }
            Op::DisableAdmin { admin } | Op::EnableAdmin { admin } => {
                !self.admins[admin].deleted && !self.admins[admin].local
            }
            Op::DeleteAdmin { admin } => {
                let a = &self.admins[admin];
                !a.deleted && (0..2).all(|c| a.member[c] != Some(Acc::Full) || self.full_admins(c) > 1)
            }
            Op::SetPolicy { .. } | Op::SetLostAccessPolicy { .. } | Op::RotateServerKey => true,
            Op::ResetFactor { by, customer, admin } => {
                let target = &self.admins[admin];
                self.admin_access(by, customer) == Some(Acc::Full)
                    && by != admin
                    && !target.deleted
                    && (target.member[customer].is_some() || target.pending[customer].is_some())
            }
        }
    }

    /// Deletes every client `admin` owns in `customer` (R6).
    fn delete_clients_of(&mut self, admin: usize, customer: usize) {
        for client in &mut self.clients {
            if client.customer == customer && client.kind == (Kind::Secure { owner: admin }) {
                client.alive = false;
            }
        }
    }

    /// `op`'s effect, if the rules allow it.
    pub fn apply(&mut self, op: &Op) {
        if !self.allowed(op) {
            return;
        }
        let new_client = |customer, kind, expires| ClientM {
            customer,
            kind,
            alive: true,
            secrets: vec![SecretM { expires, alive: true }],
        };
        match *op {
            Op::CreateAdmin { customer, access, twin, .. } => {
                let mut member = [None, None];
                member[customer] = Some(access);
                self.admins.push(AdminM {
                    member,
                    disabled: false,
                    deleted: false,
                    scim: None,
                    local: false,
                    pending: [None, None],
                    twin_of: twin,
                    invitee_only: false,
                    factor: false,
                });
            }
            Op::ScimCreate { customer, .. } => {
                let mut member = [None, None];
                // Provisioned with no access: a Full administrator grants it.
                member[customer] = Some(Acc::Custom(0));
                self.admins.push(AdminM {
                    member,
                    disabled: false,
                    deleted: false,
                    scim: Some(customer),
                    local: false,
                    pending: [None, None],
                    twin_of: None,
                    invitee_only: false,
                    factor: false,
                });
            }
            Op::Invite { customer, access, whom, .. } => {
                let mut pending = [None, None];
                pending[customer] = Some(access);
                match whom {
                    Some(w) => self.admins[w].pending[customer] = Some(access),
                    None => self.admins.push(AdminM {
                        member: [None, None],
                        disabled: false,
                        deleted: false,
                        scim: None,
                        local: true,
                        pending,
                        twin_of: None,
                        invitee_only: true,
                        factor: false,
                    }),
                }
            }
            Op::AcceptAsInviter { .. } => {}
            Op::ScimSetActive { admin, active, .. } => self.admins[admin].disabled = !active,
            Op::ScimDelete { customer, admin, .. } => {
                self.admins[admin].member[customer] = None;
                self.delete_clients_of(admin, customer);
                // Provisioned here and a member nowhere else: nothing is left of the person.
                if self.admins[admin].member.iter().all(Option::is_none) {
                    self.admins[admin].deleted = true;
                }
            }
            Op::SetAdminAccess { customer, admin, access, .. } => {
                let a = &mut self.admins[admin];
                if a.member[customer].is_some() {
                    a.member[customer] = Some(access);
                } else {
                    a.pending[customer] = Some(access);
                }
            }
            Op::RemoveAdmin { customer, admin, .. } => {
                let a = &mut self.admins[admin];
                a.pending[customer] = None;
                a.member[customer] = None;
                if a.invitee_only && a.pending == [None, None] {
                    a.deleted = true;
                }
                self.delete_clients_of(admin, customer);
            }
            Op::ListAdmins { .. } | Op::PostNotification { .. } | Op::Revoke { .. } => {}
            Op::CreateClient { by, customer } => {
                self.clients.push(new_client(customer, Kind::Secure { owner: by }, false));
            }
            Op::DeleteClient { client, .. } | Op::DeletePrincipal { client, .. } => self.clients[client].alive = false,
            Op::CreatePrincipal { customer, access, .. } => {
                self.clients.push(new_client(customer, Kind::Principal { access, converted: false }, true));
            }
            Op::SetPrincipalAccess { client, access, .. } => {
                if let Kind::Principal { access: held, .. } = &mut self.clients[client].kind {
                    *held = access;
                }
            }
            Op::AddSecret { client, expires, .. } => {
                self.clients[client].secrets.push(SecretM { expires, alive: true })
            }
            Op::DeleteSecret { client, secret, .. } => self.clients[client].secrets[secret].alive = false,
            Op::Convert { client, .. } => {
                let Kind::Secure { owner } = self.clients[client].kind else { return };
                let customer = self.clients[client].customer;
                let Some(access) = self.held(owner, customer) else { return };
                let c = &mut self.clients[client];
                c.kind = Kind::Principal { access, converted: true };
                // SP6: a principal's secrets always expire; conversion gives each an expiry.
                for secret in &mut c.secrets {
                    secret.expires = true;
                }
            }
            Op::DisableAdmin { admin } => self.admins[admin].disabled = true,
            Op::EnableAdmin { admin } => self.admins[admin].disabled = false,
            Op::DeleteAdmin { admin } => {
                for customer in 0..2 {
                    self.delete_clients_of(admin, customer);
                }
                let a = &mut self.admins[admin];
                a.member = [None, None];
                a.pending = [None, None];
                a.deleted = true;
            }
            Op::SetPolicy { customer, suspend } => self.suspend[customer] = suspend,
            Op::SetLostAccessPolicy { customer, keep } => self.keep_without_access[customer] = keep,
            Op::RotateServerKey => {}
            Op::ResetFactor { admin, .. } => self.admins[admin].factor = false,
            Op::ScimCreateGroup { customer, .. } => {
                self.groups.push(GroupM { customer, access: Acc::Custom(0), members: Vec::new(), alive: true })
            }
            Op::ScimGroupMember { customer, group, admin, add, .. } => {
                let before = vec![(admin, self.held(admin, customer))];
                let members = &mut self.groups[group].members;
                members.retain(|&m| m != admin);
                if add {
                    members.push(admin);
                }
                self.after_group_change(customer, before);
            }
            Op::ScimDeleteGroup { customer, group, .. } | Op::SetGroupAccess { customer, group, .. } => {
                let before = self.groups[group].members.iter().map(|&m| (m, self.held(m, customer))).collect();
                match *op {
                    Op::SetGroupAccess { access, .. } => self.groups[group].access = access,
                    _ => self.groups[group].alive = false,
                }
                self.after_group_change(customer, before);
            }
        }
        // A member leaves their groups with the customer (the store cascades).
        let admins = &self.admins;
        for group in &mut self.groups {
            group.members.retain(|&m| !admins[m].deleted && admins[m].member[group.customer].is_some());
        }
    }

    /// The customer an administrator most likely acts in: one they belong to.
    fn home_of_admin(&self, admin: usize) -> usize {
        if self.admins[admin].member[A].is_some() {
            A
        } else {
            B
        }
    }
}

fn access() -> impl Strategy<Value = Acc> {
    prop_oneof![1 => Just(Acc::Full), 3 => (1u8..16).prop_map(Acc::Custom)]
}

/// The model's transitions for proptest-state-machine: random operations by random actors, one in
/// five aimed at the other customer.
pub struct Rules;

impl ReferenceStateMachine for Rules {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::initial()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let admins = state.admins.len();
        let clients = state.clients.len();
        let client_home: Vec<usize> = state.clients.iter().map(|c| c.customer).collect();
        let admin_home: Vec<usize> = (0..admins).map(|a| state.home_of_admin(a)).collect();
        // A client's or admin's own customer, or (one time in five) the other one.
        let hostile = || proptest::bool::weighted(0.2);
        let of_client = move |by: usize, hostile: bool| client_home[by] ^ usize::from(hostile);
        let of_admin = move |by: usize, hostile: bool| admin_home[by] ^ usize::from(hostile);
        let (c1, c2, c3, c4, c5, c6, c7) = (
            of_client.clone(),
            of_client.clone(),
            of_client.clone(),
            of_client.clone(),
            of_client.clone(),
            of_client.clone(),
            of_client,
        );
        let accepts = 2;
        let (a1, a2, a3, a4, a5, a6, a7, a8, a9) = (
            of_admin.clone(),
            of_admin.clone(),
            of_admin.clone(),
            of_admin.clone(),
            of_admin.clone(),
            of_admin.clone(),
            of_admin.clone(),
            of_admin.clone(),
            of_admin,
        );
        // Mostly someone who still exists; now and then anyone, the deleted included.
        let pick = |live: Vec<usize>, all: usize| -> BoxedStrategy<usize> {
            if live.is_empty() {
                (0..all).boxed()
            } else {
                prop_oneof![4 => proptest::sample::select(live), 1 => 0..all].boxed()
            }
        };
        let admin = pick((0..admins).filter(|&a| !state.admins[a].deleted).collect(), admins);
        let (admin_by, admin_target) = (admin.clone(), admin.clone());
        let provisioned: Vec<usize> = (0..admins).filter(|&a| state.admins[a].scim.is_some()).collect();
        let twin = if !provisioned.is_empty() {
            proptest::option::weighted(0.5, proptest::sample::select(provisioned)).boxed()
        } else {
            Just(None).boxed()
        };
        let client = pick((0..clients).filter(|&c| state.clients[c].alive).collect(), clients);
        let group_setter = client.clone();
        let groups = state.groups.len().max(1);
        let group = pick((0..state.groups.len()).filter(|&g| state.groups[g].alive).collect(), groups);
        prop_oneof![
            3 => (client.clone(), hostile(), access(), twin)
                .prop_map(move |(by, h, access, twin)| Op::CreateAdmin { by, customer: c1(by, h), access, twin }),
            2 => (client.clone(), hostile(), access(), proptest::option::weighted(0.5, admin.clone()))
                .prop_map(move |(by, h, access, whom)| Op::Invite { by, customer: c6(by, h), access, whom }),
            accepts => (admin.clone(), 0..2usize).prop_map(|(admin, customer)| Op::AcceptAsInviter { admin, customer }),
            2 => (0..2usize, hostile()).prop_map(|(scim, h)| Op::ScimCreate { scim, customer: scim ^ usize::from(h) }),
            2 => (0..2usize, hostile(), admin.clone(), any::<bool>()).prop_map(|(scim, h, admin, active)| {
                Op::ScimSetActive { scim, customer: scim ^ usize::from(h), admin, active }
            }),
            1 => (0..2usize, hostile(), admin.clone())
                .prop_map(|(scim, h, admin)| Op::ScimDelete { scim, customer: scim ^ usize::from(h), admin }),
            4 => (client.clone(), hostile(), admin.clone(), access())
                .prop_map(move |(by, h, admin, access)| Op::SetAdminAccess { by, customer: c2(by, h), admin, access }),
            2 => (client.clone(), hostile(), admin.clone())
                .prop_map(move |(by, h, admin)| Op::RemoveAdmin { by, customer: c3(by, h), admin }),
            1 => (client.clone(), hostile()).prop_map(move |(by, h)| Op::ListAdmins { by, customer: c4(by, h) }),
            1 => (client.clone(), hostile()).prop_map(move |(by, h)| Op::PostNotification { by, customer: c5(by, h) }),
            1 => (client.clone(), client.clone()).prop_map(|(by, of)| Op::Revoke { by, of }),
            4 => (admin.clone(), hostile()).prop_map(move |(by, h)| Op::CreateClient { by, customer: a1(by, h) }),
            2 => (admin.clone(), hostile(), client.clone())
                .prop_map(move |(by, h, client)| Op::DeleteClient { by, customer: a2(by, h), client }),
            2 => (admin.clone(), hostile(), access())
                .prop_map(move |(by, h, access)| Op::CreatePrincipal { by, customer: a3(by, h), access }),
            2 => (admin.clone(), hostile(), client.clone(), access()).prop_map(move |(by, h, client, access)| {
                Op::SetPrincipalAccess { by, customer: a4(by, h), client, access }
            }),
            1 => (admin.clone(), hostile(), client.clone())
                .prop_map(move |(by, h, client)| Op::DeletePrincipal { by, customer: a5(by, h), client }),
            2 => (admin.clone(), hostile(), client.clone(), any::<bool>())
                .prop_map(move |(by, h, client, expires)| Op::AddSecret { by, customer: a6(by, h), client, expires }),
            2 => (admin.clone(), hostile(), client.clone(), 0..4usize).prop_map(move |(by, h, client, secret)| {
                Op::DeleteSecret { by, customer: a7(by, h), client, secret }
            }),
            2 => (admin.clone(), hostile(), client)
                .prop_map(move |(by, h, client)| Op::Convert { by, customer: a8(by, h), client }),
            1 => admin.clone().prop_map(|admin| Op::DisableAdmin { admin }),
            1 => admin.clone().prop_map(|admin| Op::EnableAdmin { admin }),
            1 => admin.clone().prop_map(|admin| Op::DeleteAdmin { admin }),
            1 => (0..2usize, any::<bool>()).prop_map(|(customer, suspend)| Op::SetPolicy { customer, suspend }),
            1 => (0..2usize, any::<bool>()).prop_map(|(customer, keep)| Op::SetLostAccessPolicy { customer, keep }),
            1 => Just(Op::RotateServerKey),
            2 => (admin_by, hostile(), admin_target)
                .prop_map(move |(by, h, admin)| Op::ResetFactor { by, customer: a9(by, h), admin }),
            3 => (0..2usize, hostile()).prop_map(|(scim, h)| Op::ScimCreateGroup { scim, customer: scim ^ usize::from(h) }),
            8 => (0..2usize, hostile(), group.clone(), admin, proptest::bool::weighted(0.7)).prop_map(
                |(scim, h, group, admin, add)| Op::ScimGroupMember { scim, customer: scim ^ usize::from(h), group, admin, add }
            ),
            1 => (0..2usize, hostile(), group.clone())
                .prop_map(|(scim, h, group)| Op::ScimDeleteGroup { scim, customer: scim ^ usize::from(h), group }),
            6 => (group_setter, hostile(), group, access()).prop_map(move |(by, h, group, access)| {
                Op::SetGroupAccess { by, customer: c7(by, h), group, access }
            }),
        ]
        .boxed()
    }

    /// Indices must name what exists (shrinking drops the steps that made it), and the operations
    /// that find a known hole stay off until their fix is merged.
    fn preconditions(state: &Model, op: &Op) -> bool {
        let admin = |i: usize| i < state.admins.len();
        let client = |i: usize| i < state.clients.len();
        match *op {
            Op::CreateAdmin { by, customer, twin, .. } => {
                client(by)
                    && twin.is_none_or(|t| {
                        admin(t)
                            && state.admins[t].scim == Some(customer ^ 1)
                            && !state.admins.iter().any(|a| a.twin_of == Some(t))
                    })
            }
            Op::ListAdmins { by, .. } | Op::PostNotification { by, .. } => client(by),
            Op::ScimCreate { .. } | Op::RotateServerKey => true,
            Op::Invite { by, customer, whom, .. } => {
                client(by)
                    && whom.is_none_or(|w| {
                        let a = state.admins.get(w);
                        a.is_some_and(|a| {
                            a.local && !a.deleted && a.member[customer].is_none() && a.pending[customer].is_none()
                        })
                    })
            }
            Op::AcceptAsInviter { admin: a, customer } => admin(a) && state.admins[a].pending[customer].is_some(),
            Op::ScimSetActive { admin: a, .. } | Op::ScimDelete { admin: a, .. } => admin(a),
            Op::SetPolicy { .. } | Op::SetLostAccessPolicy { .. } => true,
            Op::SetAdminAccess { by, admin: target, .. } | Op::RemoveAdmin { by, admin: target, .. } => {
                client(by) && admin(target)
            }
            // A client revoking its own token must get a new one to go on (a suspended one cannot).
            Op::Revoke { by, of } => client(by) && client(of) && (by != of || state.client_access(by).is_some()),
            Op::CreateClient { by, .. } | Op::CreatePrincipal { by, .. } => admin(by),
            Op::DeleteClient { by, client: c, .. }
            | Op::SetPrincipalAccess { by, client: c, .. }
            | Op::DeletePrincipal { by, client: c, .. }
            | Op::AddSecret { by, client: c, .. } => admin(by) && client(c),
            Op::DeleteSecret { by, client: c, secret, .. } => {
                admin(by) && client(c) && secret < state.clients[c].secrets.len()
            }
            Op::Convert { by, client: c, .. } => admin(by) && client(c),
            Op::DisableAdmin { admin: a } => admin(a) && !state.admins[a].disabled,
            Op::EnableAdmin { admin: a } => admin(a) && state.admins[a].disabled,
            Op::DeleteAdmin { admin: a } => admin(a),
            Op::ResetFactor { by, admin: target, .. } => admin(by) && admin(target),
            Op::ScimCreateGroup { .. } => true,
            Op::ScimGroupMember { group: g, admin: a, .. } => g < state.groups.len() && admin(a),
            Op::ScimDeleteGroup { group: g, .. } => g < state.groups.len(),
            Op::SetGroupAccess { by, group: g, .. } => client(by) && g < state.groups.len(),
        }
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        Model::apply(&mut state, op);
        state
    }
}
