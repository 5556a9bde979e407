"""JSON as the API writes it: every moment in the jurisdiction's local time (settings.TIME_ZONE,
+08:00), as the serializers' DateTimeFields write it. A datetime put into a response as it is (a
token's expiry, a dict a view builds) was written by DRF's encoder in UTC ("Z"): one API, two
ways of writing a time."""

import datetime

from django.utils import timezone
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder


class LocalTimeJSONEncoder(JSONEncoder):
    def default(self, obj):
        if isinstance(obj, datetime.datetime) and timezone.is_aware(obj):
            obj = timezone.localtime(obj)
        return super().default(obj)


class JSONRenderer(renderers.JSONRenderer):
    encoder_class = LocalTimeJSONEncoder
