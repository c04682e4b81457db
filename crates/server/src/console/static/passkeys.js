// Passkeys in the Trustgate console (W3C Web Authentication). A button with `data-passkey`
// ("create" to register, "get" to sign in) asks the server for a challenge at its
// `data-passkey-options` URL (the form's fields, as the form would post them), hands it to the
// browser's authenticator, and posts the answer in the form's `credential` field to the button's
// form action. The server's JSON carries binary values in base64url; the browser wants buffers.
"use strict";

function bytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function text(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(options) {
  const key = options.publicKey;
  key.challenge = bytes(key.challenge);
  key.user.id = bytes(key.user.id);
  key.excludeCredentials = (key.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) }));
  return { publicKey: key };
}

function requestOptions(options) {
  const key = options.publicKey;
  key.challenge = bytes(key.challenge);
  key.allowCredentials = (key.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) }));
  return { publicKey: key };
}

// A credential as the server reads it (WebAuthn's JSON form), with the fields of its response.
function encoded(credential, response) {
  return { id: credential.id, rawId: text(credential.rawId), type: credential.type, response };
}

function registration(credential) {
  const r = credential.response;
  return encoded(credential, {
    attestationObject: text(r.attestationObject),
    clientDataJSON: text(r.clientDataJSON),
    transports: r.getTransports ? r.getTransports() : undefined,
  });
}

function assertion(credential) {
  const r = credential.response;
  return encoded(credential, {
    authenticatorData: text(r.authenticatorData),
    clientDataJSON: text(r.clientDataJSON),
    signature: text(r.signature),
    userHandle: r.userHandle ? text(r.userHandle) : null,
  });
}

function say(form, message) {
  const box = form.querySelector("[data-passkey-error]");
  if (box) {
    box.textContent = message;
    box.hidden = false;
  }
}

async function ceremony(form, button) {
  if (!window.PublicKeyCredential) {
    say(form, "This browser does not support passkeys.");
    return;
  }
  const fields = new URLSearchParams(new FormData(form));
  // The challenge needs nothing secret: never send a password along.
  fields.delete("password");
  fields.delete("credential");
  const started = await fetch(button.dataset.passkeyOptions, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: fields,
  });
  const answer = await started.json().catch(() => ({}));
  if (!started.ok) {
    say(form, answer.detail || "The passkey could not be started. Reload the page and try again.");
    return;
  }
  let credential;
  try {
    credential =
      button.dataset.passkey === "create"
        ? registration(await navigator.credentials.create(creationOptions(answer)))
        : assertion(await navigator.credentials.get(requestOptions(answer)));
  } catch (e) {
    say(form, `No passkey was used (${e.name}). Try again, or use another way to sign in.`);
    return;
  }
  form.elements.credential.value = JSON.stringify(credential);
  // formAction is the page's own URL when the button names no action of its own.
  if (button.hasAttribute("formaction")) form.action = button.formAction;
  // submit(), not requestSubmit(): the passkey stands in for fields the form may require.
  form.submit();
}

document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (!button || !button.dataset.passkey) return;
  event.preventDefault();
  button.disabled = true;
  ceremony(event.target, button)
    .catch(() => say(event.target, "The passkey could not be used. Reload the page and try again."))
    .finally(() => { button.disabled = false; });
});
