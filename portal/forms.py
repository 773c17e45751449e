from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from portal import login_throttle
from portal.models import Team, User
from portal.text import validate_one_line


class FirstErrorOnly:
    """One message per field: Django runs every validator of a field and shows each failure (a 10,000
    character address got "Enter a valid email address." and "Ensure this value has at most 254
    characters"); the first says what to fix."""

    def _clean_fields(self):
        super()._clean_fields()
        for errors in self._errors.values():
            del errors[1:]


class TeamForm(FirstErrorOnly, forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "slug", "cost_center", "contact_email"]
        help_texts = {"cost_center": "The finance cost center that pays for this team's clusters."}


class TeamEditForm(FirstErrorOnly, forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "cost_center", "contact_email"]


class AddMemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="The person's portal username.")

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"There is no active user called “{username}”.")
        return user


class ApiTokenForm(FirstErrorOnly, forms.Form):
    name = forms.CharField(
        max_length=100,
        validators=[validate_one_line],
        help_text="What the token is for, e.g. “CI pipeline”, so you know which one to revoke.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name


class ThrottledSignIn:
    """Password sign-in with portal.login_throttle: a locked account or address is refused before its
    password is even checked, with a message saying how long to wait."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = login_throttle.client_address(self.request)
        if wait := login_throttle.seconds_locked(username, address):
            raise forms.ValidationError(login_throttle.wait_message(wait), code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError as exc:
            if exc.code == "invalid_login" and (wait := login_throttle.record_failure(username, address)):
                raise forms.ValidationError(login_throttle.wait_message(wait), code="throttled") from exc
            raise
        login_throttle.record_success(username, address)
        return cleaned


class SignInForm(ThrottledSignIn, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    pass
