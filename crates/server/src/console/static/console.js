// Progressive enhancement for the Trustgate console. Every page works without this file; with
// it, Copy buttons copy, Download saves secureclient.csv built here from the dialog's values
// (the server never serves the secret again), and the one-time dialog is modal.
"use strict";

function textOf(id) {
  const el = document.getElementById(id);
  // trim(): never hand a script author stray whitespace or zero-width characters.
  return el ? el.textContent.replace(/[\s\u200B-\u200D\uFEFF]+/g, "") : "";
}

function flash(button, label) {
  const original = button.dataset.label || button.textContent;
  button.dataset.label = original;
  button.textContent = label;
  setTimeout(() => { button.textContent = original; }, 1500);
}

// A multi-line example keeps its line breaks and indentation, which the shell needs.
function verbatimOf(id) {
  const el = document.getElementById(id);
  return el ? el.textContent.replace(/[\u200B-\u200D\uFEFF]+/g, "").trim() : "";
}

async function copy(button) {
  const id = button.dataset.copy;
  const value = button.hasAttribute("data-verbatim") ? verbatimOf(id) : textOf(id);
  try {
    await navigator.clipboard.writeText(value);
    flash(button, "Copied");
  } catch (_) {
    // No clipboard permission (plain HTTP, old browser): select the text for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(button.dataset.copy));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    flash(button, "Press Ctrl+C");
  }
}

function download(button) {
  const id = textOf(button.dataset.downloadId);
  const secret = textOf(button.dataset.downloadSecret);
  const blob = new Blob([`ID,Secret\r\n${id},${secret}\r\n`], { type: "text/csv" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = "secureclient.csv";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  flash(button, "Downloaded");
}

// Permissions only mean something with Custom access.
function syncAccess(fieldset) {
  const custom = fieldset.querySelector('input[name="access"][value="Custom"]');
  const permissions = fieldset.querySelector("[data-permissions]");
  if (custom && permissions) permissions.disabled = !custom.checked;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => copy(button));
  }
  for (const button of document.querySelectorAll("[data-download-id]")) {
    button.hidden = false;
    button.addEventListener("click", () => download(button));
  }
  for (const fieldset of document.querySelectorAll("[data-access]")) {
    syncAccess(fieldset);
    fieldset.addEventListener("change", () => syncAccess(fieldset));
  }
  const dialog = document.querySelector("dialog[data-modal]");
  if (dialog && typeof dialog.showModal === "function") {
    dialog.close();
    dialog.showModal();
    // Escape closes like the Close link: leave the page, so the secret leaves the screen.
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      document.getElementById("close-dialog").click();
    });
  }
  // The menu closes on Escape and when focus or a click goes elsewhere.
  const menu = document.getElementById("menu");
  if (menu) {
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
    document.addEventListener("click", (event) => {
      if (menu.open && !menu.contains(event.target)) menu.open = false;
    });
  }
});
