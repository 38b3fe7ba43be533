"""SNS and SQS over the AWS query API, signed with Signature V4, so the same
code runs against an emulator and real AWS."""

import datetime
import hashlib
import hmac
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from . import config


class AwsError(Exception):
    pass


def _sign(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signature_v4(method, url, headers, body, region, service, key_id, secret, now):
    """The Authorization header of a request (AWS Signature Version 4)."""
    parts = urllib.parse.urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    headers["host"] = parts.netloc
    headers["x-amz-date"] = amz_date
    names = sorted(headers)
    canonical_headers = "".join(f"{n}:{headers[n]}\n" for n in names)
    signed = ";".join(names)
    query = "&".join(sorted(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    ))
    canonical = "\n".join([
        method, urllib.parse.quote(parts.path or "/", safe="/-_.~"), query,
        canonical_headers, signed, hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(("AWS4" + secret).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _sign(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return amz_date, f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={signature}"


def _strip(tag):
    return tag.split("}", 1)[-1]


class Client:
    """Calls one AWS service (`sns`, `sqs`) of the configured endpoint."""

    def __init__(self, service):
        self.service = service
        self.region = config.get("AWS_REGION", "us-east-1")
        endpoint = config.get("AWS_ENDPOINT_URL")
        self.url = endpoint.rstrip("/") + "/" if endpoint else f"https://{service}.{self.region}.amazonaws.com/"
        self.key_id = config.get("AWS_ACCESS_KEY_ID", "test")
        self.secret = config.get("AWS_SECRET_ACCESS_KEY", "test")
        self.token = config.get("AWS_SESSION_TOKEN")

    def call(self, action, params, url=None, timeout=30):
        """Answers the response's XML root; raises AwsError with the service's message."""
        url = url or self.url
        fields = {"Action": action, "Version": "2012-11-05" if self.service == "sqs" else "2010-03-31", **params}
        body = urllib.parse.urlencode(fields).encode()
        headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
        if self.token:
            headers["x-amz-security-token"] = self.token
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date, auth = signature_v4("POST", url, headers, body, self.region, self.service, self.key_id, self.secret, now)
        request = urllib.request.Request(url, data=body, method="POST", headers={**headers, "x-amz-date": amz_date, "authorization": auth})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return ET.fromstring(answer.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            raise AwsError(f"{self.service} {action} answered {e.code}: {text[:300]}") from None
        except (urllib.error.URLError, OSError) as e:
            raise AwsError(f"{self.service} {action} at {url}: {e}") from None


def find_all(root, name):
    return [e for e in root.iter() if _strip(e.tag) == name]


def text_of(element, name, default=None):
    for e in element.iter():
        if _strip(e.tag) == name:
            return e.text
    return default


class Sqs:
    def __init__(self):
        self.client = Client("sqs")

    def receive(self, queue_url, wait_seconds, max_messages=10):
        root = self.client.call("ReceiveMessage", {
            "QueueUrl": queue_url, "WaitTimeSeconds": str(wait_seconds), "MaxNumberOfMessages": str(max_messages),
            "MessageAttributeName.1": "All", "AttributeName.1": "All",
        }, url=queue_url, timeout=wait_seconds + 10)
        messages = []
        for m in find_all(root, "Message"):
            attributes = {}
            for a in [c for c in m if _strip(c.tag) == "MessageAttribute"]:
                attributes[text_of(a, "Name")] = text_of(a, "StringValue")
            system = {}
            for a in [c for c in m if _strip(c.tag) == "Attribute"]:
                system[text_of(a, "Name")] = text_of(a, "Value")
            messages.append({
                "id": text_of(m, "MessageId"), "receipt": text_of(m, "ReceiptHandle"), "body": text_of(m, "Body") or "",
                "attributes": attributes, "receive_count": int(system.get("ApproximateReceiveCount", "1") or 1),
            })
        return messages

    def delete(self, queue_url, receipt):
        self.client.call("DeleteMessage", {"QueueUrl": queue_url, "ReceiptHandle": receipt}, url=queue_url)

    def set_visibility(self, queue_url, receipt, seconds):
        self.client.call("ChangeMessageVisibility",
                         {"QueueUrl": queue_url, "ReceiptHandle": receipt, "VisibilityTimeout": str(seconds)}, url=queue_url)

    def send(self, queue_url, body, attributes):
        params = {"QueueUrl": queue_url, "MessageBody": body}
        for i, (name, value) in enumerate(sorted(attributes.items()), start=1):
            params[f"MessageAttribute.{i}.Name"] = name
            params[f"MessageAttribute.{i}.Value.DataType"] = "String"
            params[f"MessageAttribute.{i}.Value.StringValue"] = value
        self.client.call("SendMessage", params, url=queue_url)

    def reachable(self, queue_url):
        self.client.call("GetQueueAttributes", {"QueueUrl": queue_url, "AttributeName.1": "QueueArn"}, url=queue_url, timeout=5)


class Sns:
    def __init__(self):
        self.client = Client("sns")

    def publish(self, topic_arn, message, attributes):
        params = {"TopicArn": topic_arn, "Message": message}
        for i, (name, value) in enumerate(sorted(attributes.items()), start=1):
            params[f"MessageAttributes.entry.{i}.Name"] = name
            params[f"MessageAttributes.entry.{i}.Value.DataType"] = "String"
            params[f"MessageAttributes.entry.{i}.Value.StringValue"] = value
        root = self.client.call("Publish", params)
        return text_of(root, "MessageId")
