"""The code of the vendor's API quick-start guide, copied as written there, step by step.

Source: the Haut.AI "API Quick Start Guide" (docs.saas.haut.ai, developer guides), kept in the
project's shared reference as ``seed/api_quick_start.txt``. The Python steps are verbatim; the
notebook lines ``!wget`` / ``!pip`` are not Python and are left out. The curl examples are kept as
the shell commands they are (see ``CURL_*``). What a test changes before running them, and why,
is said in ``test_guide_as_written.py``: only hosts, placeholder ids and credentials.
"""

IMPORTS = """
import base64
import time
import requests
import asyncio
import websockets
import datetime
"""

LOGIN = """
resp = requests.post(
    f"{SAAS_HOST}/api/v1/login/",
    json={"username": "your@gmail.com", "password": "your_password"},
)

token = resp.json()["access_token"]
company_id = resp.json()["company_id"]
user_id = resp.json()["id"]

print("Access token:", token)
print("Your company id:", company_id)
print("Your busines user id:", user_id)
"""

CURL_PRIVATE_TOKEN = r"""curl -X 'POST' \ 'https://saas.haut.ai/api/v1/auth/private_tokens/' \ -H 'accept: application/json' \ -H 'Content-Type: application/json' \ -d '{ "name": "string", "expiration_time": "2023-04-17T16:10:17.350Z" }'"""

CURL_DATASETS_WITH_PRIVATE_TOKEN = r"""curl -X GET https://saas.haut.ai/api/v1/companies/.../datasets/ -H 'authorization: Bearer {.data}'"""

CREATE_DATASET = """
resp = requests.post(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/datasets/",
    # image_type_id = 1 is for selfie
    json={"name": "My dataset name", "image_type_id": 1},
    headers={"Authorization": f"Bearer {token}"},
)

resp.raise_for_status()
dataset_id = resp.json()["id"]

print("Your dataset id: ", dataset_id)
"""

ATTACH_APPLICATION = """
#Face Metrics 2.0
FACE_SKIN_METRICS_APPLICATION_ID = "8b5b3acc-480b-4412-8d2c-ebe6ab4384d7" 
# "d2942e17-6239-49d1-8ff5-d74c4eb0bd20" for depricated Face Metrics 1.0

resp = requests.post(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/"
    f"applications/{FACE_SKIN_METRICS_APPLICATION_ID}/runs/",
    json={"dataset_id": dataset_id},
    headers={"Authorization": f"Bearer {token}"},
)

resp.raise_for_status()

print(
    "Application Face Skin Metrics has been successfully attached to dataset:",
    dataset_id,
)
"""

UPLOAD = """
# 1. Create subject
resp = requests.post(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/datasets/{dataset_id}/subjects/",
    json={"name": "My subject name"},
    headers={"Authorization": f"Bearer {token}"},
)

resp.raise_for_status()
subject_id = resp.json()["id"]

print("Your subject id: ", subject_id)

# 2. Create batch
print("Create batch")

resp = requests.post(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/"
    f"datasets/{dataset_id}/subjects/{subject_id}/batches/",
    headers={"Authorization": f"Bearer {token}"},
)

resp.raise_for_status()
batch_id = resp.json()["id"]
print("Your batch id: ", batch_id)

# 3. Send image
print("Upload image")

with open("face.jpg", "rb") as file:
    resp = requests.post(
        f"{SAAS_HOST}/api/v1/companies/{company_id}/"
        f"datasets/{dataset_id}/subjects/{subject_id}/batches/{batch_id}/images/",
        json={
            # side_id = 1 is for front image
            "side_id": 1,
            # light_id = 1 is for regular light
            "light_id": 1,
            "b64data": base64.b64encode(file.read()).decode(),
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    
resp.raise_for_status()
image_id = resp.json()["id"]

print("Your image id: ", image_id)
print("Wait while image is being processed...")

time.sleep(10)
"""

ALGORITHMS = """
resp = requests.get(
    f"{SAAS_HOST}/api/v1/dicts/algorithms/",
    headers={"Authorization": f"Bearer: {token}"},
)

resp.raise_for_status()
algorithms = resp.json()

print("Algorithms dict:", algorithms)
"""

NOTIFICATIONS = """
ws = websocket.create_connection(
    f"wss://saas.haut.ai/notifications/?user_id={user_id}",
    cookie=f"authorization={token}",
)
print("Receiving...")
result = ws.recv()
print(f"Received msg: '{result}'")
ws.close()
"""

RESULTS_AND_AUX = """
resp = requests.get(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/"
    f"datasets/{dataset_id}/"
    f"subjects/{subject_id}/batches/{batch_id}/images/{image_id}/results/",
    headers={"Authorization": f"Bearer {token}"},
)
resp.raise_for_status()
print("Processed results for image:", image_id)
for result in resp.json():
    alg = [algo for algo in algorithms if algo["id"] == result["algorithm_version_id"]][
        0
    ]
    print(f"{alg['algorithm_family']['name']} {alg['version']}: {result['result']}")
    print("-" * 20)

print("Get images for segments and their results")
resp = requests.get(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/"
    f"datasets/{dataset_id}/"
    f"subjects/{subject_id}/batches/{batch_id}/images/{image_id}/aux/",
    headers={"Authorization": f"Bearer {token}"},
)
resp.raise_for_status()
for aux_image in resp.json():
    print("Segment:", aux_image["aux_image_type"]["name"])
    print(f"URL: {SAAS_HOST}/images/{aux_image['id']}.jpg?token={token}")
    for result in aux_image["results"]:
        alg = [
            algo for algo in algorithms if algo["id"] == result["algorithm_version_id"]
        ][0]
        print(
            f"{alg['algorithm_family']['name']} v{alg['version']}: {result['result']}"
        )
    print("-" * 20)
"""

HISTORY = """
print("6 Return history for given user for last week")

resp = requests.get(
    f"{SAAS_HOST}/api/v1/companies/{company_id}/"
    f"datasets/{dataset_id}/"
    f"subjects/{subject_id}/all_results/",
    params={
        "date_from": (
            datetime.datetime.today() - datetime.timedelta(weeks=1)
        ).isoformat()
    },
    headers={"Authorization": f"Bearer {token}"},
)
resp.raise_for_status()
print(f"Subject [{subject_id}] history for last week:")
print(resp.json())
"""

STREAMING = """
import asyncio
import os
import time

import aiohttp
import websockets


async def test_results(host: str, email: str, password: str, company_id: str):
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"https://{host}/api/v1/login/",
            json={"username": email, "password": password},
        ) as resp:
            resp_json = await resp.json()
            token = resp_json["access_token"]
    async with websockets.connect(
        f"wss://{host}/notifications/results/?company_id={company_id}",
        extra_headers={"Authorization": token}
    ) as ws:
        while True:
            print(ws.open)
            text = await ws.recv()
            print(text)
"""

STREAMING_CALL = """
asyncio.get_event_loop().run_until_complete(
    test_results("saas.haut.ai", "youremail.gmail.com", "yourPassowrd", "your-company-id-1afb-4b3d-8099-a75fc7f7e1d4")
)
"""

CURL_ENABLED_ALGORITHMS = r"""curl -X 'POST' \
  'https://saas.haut.ai/api/v1/companies/8c2ce170-cfa8-45a5-85f6-f872f9d54970/applications/8b5b3acc-480b-4412-8d2c-ebe6ab4384d7/runs/' \
  -H 'accept: application/json' \
  -H 'Authorization: Bearer myTocken' \
  -H 'Content-Type: application/json' \
  -H 'X-CSRFTOKEN: tP2ZZ0wMYDUByIMa3GoqsjzxJL1cRwSCL1Tsp5M8YjBwLq92FhRR6UiJurWzGcQO' \
  -d '{
  "dataset_id": "8b567f0a-89f1-45da-8b0e-42473e0293da",
  "enabled_algorithms": [
    30,40]
}'"""

CURL_SMOOTHED_RESULTS = r"""curl -X 'GET' \
  'https://saas.haut.ai/api/v1/companies/2f1c3e0f-45c3-448f-81c1-885c1b725ef0/datasets/0132ced0-f78a-4717-a301-f0e8ba0efdda/subjects/145d2764-c924-499f-ac17-81d2a09bb121/batches/84007136-7842-4c4f-87ab-61f6031831ba/images/d5cc9441-12da-4841-b2c8-a6cc6acc4b20/smoothed_results/?sample_time_window=14&sample_max_size=10&smoothing_method=mean' \
  -H 'accept: application/json'"""

CURL_PDF = r"""curl -X 'POST' \
  'https://saas.haut.ai/service/pdf-generator/companies/8c2ce170-cfa8-45a5-85f6-f872f9d54970/datasets/7ec46dc1-8e3a-4d25-80ab-d751b3b2b2e7/subjects/065de3eb-d0d3-434b-b1fc-1ec6a4612a34/batches/d165b917-c7f0-42bf-9b88-ba117002947c/images/5a1177b1-dc77-465f-ae95-2ca7af887150/pdf/' \
  -H 'accept: */*' \
  -H 'access-token: yourSecretTokenHere' \
  -H 'Content-Type: application/json' \
  -d '{
  "timeout": 30000,
  "waitUntil": "networkidle0"
}'"""

RETENTION_FIELDS = (
    "expire_images_after_days",
    "expire_metadata_after_day",
    "clean_images_as_soon_as_ready",
)
"""The retention section names body fields for PUT/POST .../datasets/{core_id}/ without a call."""
