// The sign-in page: POST /v1/session exchanges the token for an HttpOnly session cookie.
// The token is sent once in the request body, never in a URL, and not stored by the page.
import { translatePage, t } from './i18n.js';

translatePage();
const form = document.getElementById('signin-form');
const error = document.getElementById('signin-error');
const params = new URLSearchParams(location.search);
if (params.get('expired')) error.textContent = t('signin.expired');

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.textContent = '';
  const input = document.getElementById('token');
  const response = await fetch('/v1/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token: input.value.trim() }),
  });
  input.value = '';
  if (response.ok) {
    location.replace('/');
    return;
  }
  const body = await response.json().catch(() => ({}));
  error.textContent = body.error || t('signin.failed');
});
