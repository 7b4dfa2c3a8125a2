import json
import os
import requests  # This comes from the layer!

# lamina example: the tutorial calls https://httpbin.org/get. The example must
# not need the internet, so run.sh starts a loopback stand-in (httpbin_stub.py)
# and passes its URL in HTTPBIN_URL; with HTTPBIN_URL unset this is the
# tutorial's request. timeout=5 bounds the call (the tutorial has none).
URL = os.environ.get('HTTPBIN_URL', 'https://httpbin.org/get')


def lambda_handler(event, context):
    """
    Test function using requests library from layer
    """
    try:
        # Make HTTP request using library from layer
        response = requests.get(URL, timeout=5)

        return {
            'statusCode': 200,
            'body': json.dumps({
                'message': 'Successfully used layer!',
                'response_code': response.status_code,
                'layer_test': 'PASSED'
            })
        }
    except Exception as e:
        return {
            'statusCode': 500,
            'body': json.dumps({
                'error': str(e),
                'layer_test': 'FAILED'
            })
        }
