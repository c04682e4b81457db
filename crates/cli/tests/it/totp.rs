//! One-time codes for tests of the second factor (issue #25), computed apart from the server: by
//! Python's standard library (`hmac`, `hashlib`, `base64`), from the base32 secret the
//! administrator is shown, as an authenticator app computes them (RFC 6238, SHA-1, 30 s, 6 digits).

use time::OffsetDateTime;
use trustgate_core::mfa::{RecoveryCode, TotpSecret, TotpVault};
use trustgate_core::secret::ServerKeyring;

use crate::harness::{TestAdmin, TestApp};

const TOTP: &str = "import base64, hashlib, hmac, struct, sys, time\n\
key = base64.b32decode(sys.argv[1] + '=' * (-len(sys.argv[1]) % 8))\n\
step = int(time.time()) // 30 + int(sys.argv[2])\n\
mac = hmac.new(key, struct.pack('>Q', step), hashlib.sha1).digest()\n\
offset = mac[-1] & 15\n\
print('%06d' % ((struct.unpack('>I', mac[offset:offset + 4])[0] & 0x7fffffff) % 1000000))\n";

/// The code of `secret` for the time step `offset` steps from now.
pub fn code(secret: &str, offset: i64) -> String {
    let output = std::process::Command::new("python3")
        .args(["-c", TOTP, secret, &offset.to_string()])
        .output()
        .expect("python3 runs (Debian's python3, as the other Python tools of the tests)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("digits").trim().to_owned()
}

/// An administrator's confirmed authenticator, as the console's enrolment leaves it.
pub struct Enrolled {
    pub secret: String,
    pub recovery: Vec<String>,
}

/// Enrols `admin` in the store directly, with the current time step spent as a confirmation
/// spends it; the console's own enrolment is driven in the browser tests.
pub async fn enrol(app: &TestApp, admin: &TestAdmin) -> Enrolled {
    let ring = ServerKeyring::from(app.server_key.clone());
    let secret = TotpSecret::generate();
    let sealed = TotpVault::for_ring(&ring).seal(admin.id, &secret);
    let now = OffsetDateTime::now_utc();
    assert!(app.store.begin_totp(admin.id, &sealed, now).await.unwrap());
    let codes: Vec<RecoveryCode> = (0..10).map(|_| RecoveryCode::generate()).collect();
    let digests: Vec<[u8; 32]> = codes.iter().map(|c| c.digest(&ring, admin.id)).collect();
    let record = app.store.admin(admin.id).await.unwrap().expect("the administrator");
    let step = trustgate_core::mfa::step_of(now.unix_timestamp());
    assert!(app.store.confirm_totp(&record, &sealed, step, &digests, now).await.unwrap());
    Enrolled { secret: secret.base32(), recovery: codes.iter().map(|c| c.expose().to_owned()).collect() }
}
