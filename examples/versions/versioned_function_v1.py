import json


def lambda_handler(event, context):
    return {
        'statusCode': 200,
        'body': json.dumps({
            'message': 'Version 1.0 - Initial release',
            'version': '1.0'
        })
    }
