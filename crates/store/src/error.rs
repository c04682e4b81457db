use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A change that a lifecycle rule forbids, such as removing a customer's last Full administrator.
    #[error(transparent)]
    Refused(#[from] trustgate_core::lifecycle::Refusal),
    /// A conditional write named a version that is no longer current (SCIM `If-Match`).
    #[error("the resource changed since the version presented")]
    Stale,
    /// The database cannot be reached; callers answer 503 and retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Internal(String),
    /// A database error that is none of the above, kept whole so the log can show its sources.
    #[error("storage error: {0}")]
    Database(#[source] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &error {
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict("it already exists".to_owned()),
                ErrorKind::ForeignKeyViolation => StoreError::NotFound("membership"),
                _ if db.message().contains("locked") || db.message().contains("busy") => {
                    StoreError::Unavailable(db.message().to_owned())
                }
                _ => StoreError::Database(error),
            },
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            _ => StoreError::Database(error),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(sqlx::Error::Migrate(Box::new(error)))
    }
}

impl From<trustgate_core::ValidationError> for StoreError {
    fn from(error: trustgate_core::ValidationError) -> Self {
        StoreError::Internal(format!("a stored value is invalid: {error}"))
    }
}
