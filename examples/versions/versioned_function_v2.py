import json


def lambda_handler(event, context):
    return {
        'statusCode': 200,
        'body': json.dumps({
            'message': 'Version 2.0 - Added new feature',
            'version': '2.0',
            'feature': 'New functionality'
        })
    }
