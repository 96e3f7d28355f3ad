// sitescim web UI: progressive enhancement only. Every page works without this
// file; it turns Create Token and Delete into dialogs and adds the Copy button.
(function () {
  "use strict";

  function $(selector, root) {
    return (root || document).querySelector(selector);
  }

  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  // Profile menu (<details>): Escape and a click elsewhere close it.
  $all("details[data-menu]").forEach(function (menu) {
    var summary = $("summary", menu);
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        summary.focus();
      }
    });
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) {
        menu.open = false;
      }
    });
  });

  // Copy: the token value itself, never its description.
  function wireCopy(button) {
    var target = $(button.getAttribute("data-copy"));
    var status = $("[data-copy-status]", button.closest(".field"));
    if (!target || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value).then(
        function () {
          status.textContent = "Copied to the clipboard. Paste it into your identity provider now.";
        },
        function () {
          target.focus();
          target.select();
          status.textContent = "Copying failed. The token is selected: press Ctrl+C (⌘C on a Mac).";
        }
      );
    });
  }
  $all("[data-copy]").forEach(wireCopy);

  // Notices that report what just happened take focus, so it is announced;
  // after load, as scrolling to the URL's #fragment would reset it.
  var focusNotice = $("[data-focus-on-load]");
  if (focusNotice) {
    window.addEventListener("load", function () {
      window.setTimeout(function () {
        focusNotice.focus();
      }, 0);
    });
  }

  // The explained, inactive Create Token button points at its explanation.
  var blocked = $("#create-token-blocked-button");
  var blockedText = $("#create-token-blocked");
  if (blocked && blockedText) {
    blockedText.setAttribute("tabindex", "-1");
    blocked.addEventListener("click", function () {
      blockedText.focus();
    });
  }

  // Create Token in a dialog; the value is shown once, then removed on close.
  var createDialog = $("#create-token-dialog");
  var createButton = $("#create-token-button");
  var createLink = $("#create-token-link");
  if (createDialog && createButton && createLink && createDialog.showModal) {
    var form = $("form", createDialog);
    var formStep = $('[data-step="form"]', createDialog);
    var secretStep = $('[data-step="secret"]', createDialog);
    var error = $("[data-form-error]", form);
    var description = $('input[name="description"]', form);
    var save = $('button[type="submit"]', form);
    var value = $("input.secret", secretStep);
    var createdId = null;

    createLink.hidden = true;
    createButton.hidden = false;

    var showError = function (message, field) {
      error.textContent = message;
      error.hidden = false;
      if (field === "description") {
        description.setAttribute("aria-invalid", "true");
        description.focus();
      }
    };

    var reset = function () {
      form.reset();
      error.hidden = true;
      error.textContent = "";
      description.removeAttribute("aria-invalid");
      formStep.hidden = false;
      secretStep.hidden = true;
      value.value = "";
      $("[data-copy-status]", secretStep).textContent = "";
      createdId = null;
    };

    createButton.addEventListener("click", function () {
      reset();
      createDialog.showModal();
      description.focus();
    });

    $all("[data-close]", createDialog).forEach(function (button) {
      button.addEventListener("click", function () {
        createDialog.close();
      });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!description.value.trim()) {
        showError("Enter a description.", "description");
        return;
      }
      save.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      })
        .then(function (response) {
          return response.json().then(
            function (body) {
              return { ok: response.ok, status: response.status, body: body };
            },
            function () {
              return { ok: false, status: response.status, body: {} };
            }
          );
        })
        .then(function (result) {
          if (!result.ok) {
            var message = result.body.detail || "The token could not be created (" + result.status + ").";
            if (result.status === 401) {
              message = "Your session has ended. Reload the page and sign in again.";
            }
            showError(message, result.body.field);
            return;
          }
          var token = result.body;
          createdId = token.id;
          value.value = token.token;
          $("[data-secret-scope]", secretStep).textContent = token.scope;
          $("[data-secret-expires]", secretStep).textContent = token.expires_on;
          $("[data-secret-days]", secretStep).textContent = String(token.days_left);
          var title = $("h2", secretStep);
          title.textContent = "Token created: \u201c" + token.description + "\u201d";
          formStep.hidden = true;
          secretStep.hidden = false;
          createDialog.setAttribute("aria-labelledby", title.id);
          title.focus();
        })
        .catch(function () {
          showError("The service could not be reached. Try again.", null);
        })
        .then(function () {
          save.disabled = false;
        });
    });

    createDialog.addEventListener("close", function () {
      // The value leaves the page with the dialog; the list is then reloaded.
      value.value = "";
      createDialog.setAttribute("aria-labelledby", "create-token-title");
      if (createdId) {
        var id = createdId;
        createdId = null;
        window.location.replace("/profile?created=" + encodeURIComponent(id) + "#tokens");
      } else {
        createButton.focus();
      }
    });
  }

  // Delete (revoke) confirmation in a dialog that names the token.
  var revokeDialog = $("#revoke-dialog");
  if (revokeDialog && revokeDialog.showModal) {
    var revokeForm = $("form", revokeDialog);
    var opener = null;
    $all("a[data-revoke]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        opener = link;
        revokeForm.action = link.getAttribute("href");
        $("[data-description]", revokeDialog).textContent = link.getAttribute("data-description");
        revokeDialog.showModal();
        $("[data-close]", revokeDialog).focus();
      });
    });
    $("[data-close]", revokeDialog).addEventListener("click", function () {
      revokeDialog.close();
    });
    revokeDialog.addEventListener("close", function () {
      if (opener) {
        opener.focus();
      }
    });
  }

  // The one-time page (without the dialog): leaving it removes the value, and
  // a page restored from the back-forward cache never shows it again.
  var oneTimePage = $("[data-one-time-page]");
  if (oneTimePage) {
    var clear = function () {
      $all("input.secret", oneTimePage).forEach(function (input) {
        input.value = "";
      });
    };
    window.addEventListener("pagehide", clear);
    window.addEventListener("pageshow", function (event) {
      if (event.persisted) {
        clear();
        window.location.replace("/profile#tokens");
      }
    });
    var done = $("[data-done]", oneTimePage);
    done.addEventListener("click", function (event) {
      event.preventDefault();
      clear();
      window.location.replace(done.getAttribute("href"));
    });
  }
})();
